"""The frame codec of the stream transports (pipes, virtio-serial, a console), on its own:
junk, echo, split reads and lengths that lie, on both the guest's reader and the host's."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from sandlot.errors import GuestProtocolError
from sandlot.guest.agent import framing, protocol
from sandlot.runtimes import frames
from sandlot.runtimes.output import OutputSink

PING = {"op": protocol.OP_PING, "id": 1}


def _all(reader: framing.FrameReader) -> list[bytes]:
    out = []
    while (frame := reader.next()) is not None:
        out.append(frame)
    return out


def test_a_frame_is_marked_and_length_prefixed() -> None:
    payload = protocol.encode(PING)
    assert framing.pack(PING) == b"\x1eSL%08x%s\n" % (len(payload), payload)
    reader = framing.FrameReader()
    reader.feed(framing.pack(PING) * 3)
    assert [protocol.decode(f) for f in _all(reader)] == [PING] * 3
    assert not reader.buffer


def test_split_reads_give_the_same_frames_byte_by_byte() -> None:
    data = framing.pack(PING) + framing.pack({"ev": "stdout", "data": "x" * 1000})
    reader = framing.FrameReader()
    got = []
    for i in range(len(data)):
        reader.feed(data[i : i + 1])
        got += _all(reader)
    assert [protocol.decode(f)["op" if i == 0 else "ev"] for i, f in enumerate(got)] == [
        "ping",
        "stdout",
    ]


def test_a_console_skips_kernel_messages_and_echo_between_frames() -> None:
    junk = b"[    1.234567] virtio_console: port found\r\n$ \x1e not a mark SL\n"
    reader = framing.FrameReader(skip_junk=True)
    reader.feed(junk + framing.pack(PING) + junk + b"\x1e")  # a mark's first byte at the end
    assert _all(reader) == [protocol.encode(PING)]
    reader.feed(b"SL")  # ... completed by the next read: still the start of a frame
    reader.feed(framing.pack(PING)[3:])
    assert _all(reader) == [protocol.encode(PING)]


def test_junk_alone_never_grows_the_buffer() -> None:
    reader = framing.FrameReader(skip_junk=True)
    for _ in range(100):
        reader.feed(os.urandom(4096).replace(b"\x1e", b"."))
        assert reader.next() is None
    assert len(reader.buffer) < 3


def test_a_dedicated_channel_refuses_bytes_outside_frames() -> None:
    reader = framing.FrameReader()
    reader.feed(b"not json\n")
    with pytest.raises(framing.FrameError, match="outside a frame"):
        reader.next()


@pytest.mark.parametrize(
    "head", [b"\x1eSLzzzzzzzz", b"\x1eSL-0000001", b"\x1eSL 0000001", b"\x1eSL0000000A"]
)
def test_a_length_that_is_not_8_hex_digits_is_an_error(head: bytes) -> None:
    for skip in (False, True):
        reader = framing.FrameReader(skip_junk=skip)
        reader.feed(head + b"{}\n")
        with pytest.raises(framing.FrameError, match="hex digits"):
            reader.next()


def test_a_giant_length_is_refused_before_its_bytes_come() -> None:
    reader = framing.FrameReader(skip_junk=True)
    reader.feed(b"\x1eSLffffffff")
    with pytest.raises(framing.FrameTooLarge):
        reader.next()
    small = framing.FrameReader(limit=10)
    small.feed(framing.pack({"ev": "stdout", "data": "more than ten"}))
    with pytest.raises(framing.FrameTooLarge):
        small.next()


def test_a_frame_whose_end_is_not_where_its_length_says_is_an_error() -> None:
    reader = framing.FrameReader(skip_junk=True)
    reader.feed(b"\x1eSL00000002{}}\n")
    with pytest.raises(framing.FrameError, match="does not end"):
        reader.next()


def test_the_host_turns_frame_errors_into_protocol_errors() -> None:
    for data, words in (
        (b"\x1eSL0fffffff", "larger than the limit"),
        (b"\x1eSL00000003[1]\n", "not a JSON object"),
        (b"garbage", "malformed frame"),
    ):
        reader = framing.FrameReader()
        reader.feed(data)
        with pytest.raises(GuestProtocolError, match=words):
            frames.take_reply(reader, 1, None)


def test_the_host_takes_output_and_the_reply_with_its_id_only() -> None:
    reader = framing.FrameReader()
    sink = OutputSink(1 << 10)
    reader.feed(
        framing.pack({"ev": "stdout", "data": "hi"})
        + framing.pack({"ev": "done", "id": 7, "reply": {"forged": True}})  # not ours
        + framing.pack({"ev": "done", "id": 1, "reply": {"ok": True}})[:-5]
    )
    assert frames.take_reply(reader, 1, sink) is None  # the reply is not whole yet
    reader.feed(framing.pack({"ev": "done", "id": 1, "reply": {"ok": True}})[-5:])
    assert frames.take_reply(reader, 1, sink) == {"ok": True}
    assert sink.text("stdout") == "hi"


def test_frames_after_the_last_reply_are_an_error_where_none_may_come() -> None:
    reader = framing.FrameReader()
    reader.feed(framing.pack({"ev": "done", "id": 1, "reply": {}}) + b"\x1eSL")
    with pytest.raises(GuestProtocolError, match="after its reply"):
        frames.take_reply(reader, 1, None, last=True)


def test_every_request_field_is_declared() -> None:
    assert protocol.request(protocol.OP_CLOCK, time=1.0) == {"op": "clock", "time": 1.0}
    with pytest.raises(ValueError, match="no field"):
        protocol.request(protocol.OP_PING, cmd="true")
    for fields in protocol.FILE_ACTIONS.values():
        assert fields <= protocol.OPS[protocol.OP_FILE]


def test_guest_frames_cross_a_real_pipe_in_pieces() -> None:
    r, w = os.pipe()
    big = {"ev": "stdout", "data": "y" * (200 << 10)}  # more than a pipe holds at once

    def write() -> None:
        writer = framing.FrameWriter(w)
        writer.send(big)
        writer.send(PING)
        os.close(w)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        source = framing.FrameInput(r)
        assert protocol.decode(source.next() or b"") == big
        assert protocol.decode(source.next() or b"") == PING
        assert source.next() is None  # the writer is gone
    finally:
        thread.join()
        os.close(r)


class _Console(frames.FramedStream):
    """A console as the RISC-V tier will have one: one socket carrying the guest's frames,
    its kernel's messages and the echo of what the host typed."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(skip_junk=True)
        self.sock = sock

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self, timeout: float, sink: OutputSink | None) -> bytes | None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 16)
        except TimeoutError:
            return None
        if not data:
            raise frames.LinkClosed("the console closed")
        return data


def test_a_console_stream_finds_its_reply_among_echo_and_kernel_messages() -> None:
    host, guest = socket.socketpair()

    def serve() -> None:
        source = framing.FrameInput(guest.fileno(), skip_junk=True)
        request = protocol.decode(source.next() or b"")
        frame = framing.pack(request)
        guest.sendall(b"\r\n[   12.5] random: crng init done\r\n" + frame[:5])
        guest.sendall(frame[5:] + b"login: ")  # the echo of the request, then a prompt
        guest.sendall(framing.pack({"ev": "stdout", "data": "hi"}))
        guest.sendall(framing.pack({"ev": "done", "id": request["id"], "reply": {"ok": True}}))

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        console = _Console(host)
        sink = OutputSink(1 << 10)
        wanted = console.request(protocol.request(protocol.OP_PING))
        assert console.reply(wanted, sink, time.monotonic() + 10) == {"ok": True}
        assert sink.text("stdout") == "hi"
        with pytest.raises(frames.Deadline):
            console.reply(wanted + 1, None, time.monotonic() + 0.05)
    finally:
        thread.join()
        host.close()
        guest.close()
