"""What both ends of the wire share, and all the Blender add-on takes from the optimizer (it vendors
this package whole): errors, the parameter space, messages, sockets, the client and the worker loop.
Only the standard library, numpy and pyzmq are imported here (tests/test_import_graph.py)."""
