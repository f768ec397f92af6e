"""The wire format: round trips, and every kind of malformed message refused with a clear reason."""

from __future__ import annotations

import json

import numpy as np
import pytest

from optimizer_server.wire import protocol
from optimizer_server.wire.errors import ProtocolError, ZeroGradsError
from optimizer_server.wire.protocol import Limits, decode, encode


def header_of(frames):
    return json.loads(bytes(frames[0]))


def raw(header, *frames):
    return [json.dumps(header).encode()] + list(frames)


def render_header(**overrides):
    h = {
        "v": 1,
        "type": "render",
        "job": "j1",
        "seq": 4,
        "re": None,
        "body": {"task": 9, "seeds": [5, 5]},
        "arrays": [{"name": "values", "dtype": "<f8", "shape": [2, 3]}],
    }
    h.update(overrides)
    return h


def test_render_and_result_round_trip_preserve_arrays_exactly():
    values = np.random.default_rng(0).random((2, 3))
    msg = decode(encode("render", {"task": 9, "seeds": [5, 5]}, job="j1", seq=4, arrays=[("values", values)]))
    assert (msg.kind, msg.job, msg.seq, msg.body["task"]) == ("render", "j1", 4, 9)
    np.testing.assert_array_equal(msg.array("values"), values)

    images = np.random.default_rng(1).random((3, 4, 5, 4)).astype(np.float32)
    frames = encode("result", {"task": 9, "render_s": 0.5}, job="j1", seq=5, arrays=[("image", img) for img in images])
    assert header_of(frames)["arrays"][0] == {"name": "image", "dtype": "<f4", "shape": [4, 5, 4]}
    assert bytes(frames[1]) == images[0].astype("<f4").tobytes()  # raw little-endian float32 pixels
    got = decode(frames).arrays_named("image")
    np.testing.assert_array_equal(np.stack(got), images)


def test_big_endian_and_float64_images_are_sent_as_little_endian_float32():
    img = np.arange(12, dtype=">f8").reshape(2, 2, 3)
    got = decode(encode("result", {"task": 1, "render_s": 0.0}, arrays=[("image", img)])).array("image")
    assert got.dtype == np.dtype("<f4")
    np.testing.assert_array_equal(got, img.astype(np.float32))


@pytest.mark.parametrize(
    "header, frames, needle, code",
    [
        (render_header(v=2), [np.zeros(6).tobytes()], "protocol version 2 is not supported", "unsupported_version"),
        (render_header(type="teleport"), [np.zeros(6).tobytes()], "unknown message type 'teleport'", "bad_message"),
        (render_header(), [], "declares 1 arrays but 0 data frames", "bad_message"),
        (render_header(), [np.zeros(5).tobytes()], "needs 48 bytes, the frame has 40", "bad_message"),
        (
            render_header(arrays=[{"name": "values", "dtype": "|O", "shape": [2, 3]}]),
            [b"x"],
            "dtype '|O'",
            "bad_message",
        ),
        (
            render_header(arrays=[{"name": "values", "dtype": "<f8", "shape": [2**20, 2**20]}]),
            [b""],
            "is 8,796,093,022,208 bytes",
            "too_large",
        ),
        (
            render_header(body={"task": 9, "seeds": [5], "extra": 1}),
            [np.zeros(6).tobytes()],
            "unknown field(s) ['extra']",
            "bad_message",
        ),
        (
            render_header(body={"task": True, "seeds": [5]}),
            [np.zeros(6).tobytes()],
            "field 'task' must be an integer, got true",
            "bad_message",
        ),
        (
            render_header(body={"task": 1, "seeds": [-1]}),
            [np.zeros(6).tobytes()],
            "seeds must be a non-empty list of non-negative integers",
            "bad_message",
        ),
        (
            {"v": 1, "type": "abort", "job": None, "seq": 1, "re": None, "body": {"tasks": [3, "4"]}, "arrays": []},
            [],
            "'abort' tasks must be a non-empty list",
            "bad_message",
        ),
        (
            render_header(job="../../etc"),
            [np.zeros(6).tobytes()],
            "header 'job' must be 1-64 characters",
            "bad_message",
        ),
        (render_header(seq="7"), [np.zeros(6).tobytes()], "header 'seq' must be an integer", "bad_message"),
        (render_header(surprise=1), [np.zeros(6).tobytes()], "unknown header field(s) ['surprise']", "bad_message"),
    ],
)
def test_malformed_messages_raise_protocol_errors_that_name_the_problem(header, frames, needle, code):
    with pytest.raises(ProtocolError) as info:
        decode(raw(header, *frames))
    assert needle in str(info.value)
    assert info.value.code == code
    assert isinstance(info.value, ValueError) and isinstance(info.value, ZeroGradsError)


@pytest.mark.parametrize(
    "first_frame, needle",
    [
        (b"\xff\xfe not utf8", "not UTF-8 JSON"),
        (b'{"v": 1, "seq": NaN}', "not UTF-8 JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"[" * 100000 + b"]" * 100000, "not UTF-8 JSON"),  # deep nesting must not crash the parser's caller
    ],
)
def test_unparseable_headers_are_protocol_errors(first_frame, needle):
    with pytest.raises(ProtocolError, match=needle.replace("(", r"\(")):
        decode([first_frame])


def test_limits_on_frames_header_and_arrays():
    limits = Limits(max_frames=3, max_header_bytes=200, max_array_bytes=64, max_message_bytes=10_000)
    img = np.zeros((2, 2, 4), np.float32)  # 64 bytes: exactly the limit
    ok = encode("result", {"task": 1, "render_s": 0.0}, arrays=[("image", img)])
    assert decode(ok, limits=limits).array("image").shape == (2, 2, 4)

    too_many = encode("result", {"task": 1, "render_s": 0.0}, arrays=[("image", img)] * 3)
    with pytest.raises(ProtocolError, match="4 frames; at most 3") as info:
        decode(too_many, limits=limits)
    assert info.value.code == "too_large"

    big = encode("result", {"task": 1, "render_s": 0.0}, arrays=[("image", np.zeros((3, 2, 4), np.float32))])
    with pytest.raises(ProtocolError, match="96 bytes; the limit per array is 64"):
        decode(big, limits=limits)

    long_header = encode("render_failed", {"task": 1, "message": "x" * 300})
    with pytest.raises(ProtocolError, match=r"header is \d+ bytes; the limit is 200"):
        decode(long_header, limits=limits)


def test_kinds_are_checked_against_the_receiving_end():
    frames = encode("render", {"task": 1, "seeds": [0]}, arrays=[("values", np.zeros((1, 2)))])
    with pytest.raises(ProtocolError, match="'render' is not accepted here"):
        decode(frames, accept=protocol.TO_SERVER)


@pytest.mark.parametrize(
    "body_change, needle",
    [
        ({"budget": 0}, "budget must be 1 .. 1e9"),
        ({"target": {"kind": "photo"}}, "target kind must be 'image'"),
        ({"target": {"kind": "values"}}, "needs 'values'"),
        ({"settings": {"params": []}}, "reserved key 'params'"),
        ({"space": {"params": []}}, "at least one parameter spec"),
        ({"method": 3}, "field 'method' must be a string"),
        ({"render_timeout_s": -1.0}, "render_timeout_s must be in (0, 86400]"),
    ],
)
def test_submit_bodies_are_validated(body_change, needle):
    body = {
        "space": {"params": [{"name": "x", "lo": 0, "hi": 1}]},
        "method": "prdpt",
        "budget": 10,
        "target": {"kind": "values", "values": {"x": 0.5}},
    }
    body.update(body_change)
    with pytest.raises(ProtocolError) as info:
        encode("submit", body)  # the sender checks with the receiver's rules
    assert needle in str(info.value)


def test_encode_refuses_nan_in_bodies():
    with pytest.raises(ProtocolError, match="finite"):
        encode("result", {"task": 1, "render_s": float("nan")})
