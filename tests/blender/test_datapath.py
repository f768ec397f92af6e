"""Data-path parsing: no bpy needed, no eval ever."""

import pytest

from blender_addon.datapath import DataPathError, format_steps, parse


@pytest.mark.parametrize(
    "path, steps",
    [
        ('objects["Sphere"].location', [("attr", "objects"), ("key", "Sphere"), ("attr", "location")]),
        (
            "bpy.data.objects['Sphere'].location[1]",
            [("attr", "objects"), ("key", "Sphere"), ("attr", "location"), ("index", 1)],
        ),
        (
            'objects["Obj"].modifiers["GeometryNodes"]["Socket_2"]',
            [("attr", "objects"), ("key", "Obj"), ("attr", "modifiers"), ("key", "GeometryNodes"), ("key", "Socket_2")],
        ),
        (
            'materials["Mat"].node_tree.nodes["Principled BSDF"].inputs["IOR"].default_value',
            [
                ("attr", "materials"),
                ("key", "Mat"),
                ("attr", "node_tree"),
                ("attr", "nodes"),
                ("key", "Principled BSDF"),
                ("attr", "inputs"),
                ("key", "IOR"),
                ("attr", "default_value"),
            ],
        ),
        ('objects["say \\"hi\\" \\\\ ok"]["prop"]', [("attr", "objects"), ("key", 'say "hi" \\ ok'), ("key", "prop")]),
        ("scenes[0].cycles.seed", [("attr", "scenes"), ("index", 0), ("attr", "cycles"), ("attr", "seed")]),
    ],
)
def test_parse_and_format_round_trip(path, steps):
    assert parse(path) == steps
    assert parse(format_steps(steps)) == steps


@pytest.mark.parametrize(
    "path, problem",
    [
        ('objects["Sphere"', "expected ']'"),
        ('objects["Sphere].location', "unterminated string"),
        ("objects[Sphere]", "quoted name or a whole number"),
        ('objects["x"].', "expected a property name"),
        ('__import__("os").system("true")', "unexpected '('"),
        ('objects["x"] + 1', "unexpected ' '"),
        ("", "non-empty"),
    ],
)
def test_bad_paths_name_the_problem(path, problem):
    with pytest.raises(DataPathError, match=problem.replace("(", r"\(").replace("[", r"\[")):
        parse(path)


def test_error_is_a_project_config_error():
    from optimizer_server.wire.errors import ConfigError, ZeroGradsError

    with pytest.raises(ConfigError) as info:
        parse("a..b")
    assert isinstance(info.value, ZeroGradsError) and isinstance(info.value, ValueError)
    assert "^" in str(info.value)  # a caret under the offending character
