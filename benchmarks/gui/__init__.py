"""Driving a real Blender window with X input events (Xvfb, xdotool): the GUI tests' and
``bench_gui``'s kit. ``probe.py`` runs inside Blender and only observes."""
