"""ccTalk codec: byte vectors checked by hand, the host algorithm, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vendd.errors import ProtocolError
from vendd.hw.cctalk import codec
from vendd.hw.cctalk.codec import CreditBuffer, EventKind, Frame, Move

SIMPLE_POLL = bytes.fromhex("02 00 01 FE FF")
SIMPLE_POLL_ACK = bytes.fromhex("01 00 02 00 FD")
READ_CREDIT = bytes.fromhex("02 00 01 E5 18")
MODIFY_INHIBIT = bytes.fromhex("02 02 01 E7 A7 0A 63")
CREDIT_REPLY = bytes.fromhex("01 0B 02 00 06 06 04 00 14 00 17 06 04 0D 02 9E")


@pytest.mark.parametrize(
    ("frame", "dest", "src", "header", "data"),
    [
        (SIMPLE_POLL, 2, 1, 254, b""),
        (SIMPLE_POLL_ACK, 1, 2, 0, b""),
        (READ_CREDIT, 2, 1, 229, b""),
        (MODIFY_INHIBIT, 2, 1, 231, b"\xa7\x0a"),
        (CREDIT_REPLY, 1, 2, 0, bytes.fromhex("06 06 04 00 14 00 17 06 04 0D 02")),
    ],
)
def test_checked_vectors_build_and_parse(frame, dest, src, header, data):
    assert codec.build_frame(dest, src, header, data) == frame
    assert codec.parse_frame(frame) == Frame(dest, src, header, data)


def test_checksum_when_sum_is_already_zero():
    # 256 - sum would give 256 (not a byte) here; the right answer is 0.
    body = bytes([2, 1, 1, 250, 2])
    assert sum(body) % 256 == 0
    assert codec.simple_checksum(body) == 0
    assert codec.build_frame(2, 1, 250, b"\x02")[-1] == 0


def test_crc16_xmodem_check_value():
    assert codec.crc16_xmodem(b"123456789") == 0x31C3


def test_crc16_frame_layout_and_round_trip():
    raw = codec.build_frame(2, 1, 231, b"\xa7\x0a", checksum="crc16")
    crc = codec.crc16_xmodem(bytes([2, 2, 231, 0xA7, 0x0A]))
    assert raw == bytes([2, 2, crc & 0xFF, 231, 0xA7, 0x0A, crc >> 8])
    assert codec.parse_frame(raw, "crc16") == Frame(2, None, 231, b"\xa7\x0a")
    with pytest.raises(ProtocolError):
        codec.parse_frame(raw, "simple")
    bad = bytearray(raw)
    bad[4] ^= 1
    with pytest.raises(ProtocolError):
        codec.parse_frame(bytes(bad), "crc16")


@pytest.mark.parametrize("raw", [b"", b"\x02", b"\x02\x00\x01\xfe", SIMPLE_POLL[:-1] + b"\x00"])
def test_parse_frame_rejects_short_or_bad(raw):
    with pytest.raises(ProtocolError):
        codec.parse_frame(raw)


def test_parse_frame_rejects_length_mismatch():
    with pytest.raises(ProtocolError):
        codec.parse_frame(SIMPLE_POLL + b"\x00")


def test_assembler_byte_by_byte_and_several_frames():
    asm = codec.FrameAssembler()
    stream = SIMPLE_POLL_ACK + CREDIT_REPLY
    frames = [f for b in stream for f in asm.feed(bytes([b]))]
    assert [f.header for f in frames] == [0, 0]
    assert frames[1].data[0] == 6
    assert asm.feed(stream) == frames
    assert asm.pending == 0


def test_assembler_bad_checksum_raises_and_resyncs():
    asm = codec.FrameAssembler()
    with pytest.raises(ProtocolError):
        asm.feed(SIMPLE_POLL_ACK[:-1] + b"\x00")
    assert asm.pending == 0
    assert asm.feed(SIMPLE_POLL_ACK) == [Frame(1, 2, 0)]


def test_assembler_needed():
    asm = codec.FrameAssembler()
    assert asm.needed() == 5
    asm.feed(CREDIT_REPLY[:3])
    assert asm.needed() == len(CREDIT_REPLY) - 3


def test_parse_credit_buffer_vector():
    buf = codec.parse_credit_buffer(codec.parse_frame(CREDIT_REPLY).data)
    assert buf.counter == 6
    assert buf.results == ((6, 4), (0, 20), (0, 23), (6, 4), (13, 2))
    assert [codec.classify(a, b) for a, b in buf.results] == [
        EventKind.ACCEPTED,
        EventKind.SUSPICIOUS,
        EventKind.SUSPICIOUS,
        EventKind.ACCEPTED,
        EventKind.ACCEPTED,
    ]


@pytest.mark.parametrize("n", [0, 1, 10, 12])
def test_parse_credit_buffer_wrong_length(n):
    with pytest.raises(ProtocolError):
        codec.parse_credit_buffer(bytes(n))


def _buf(counter: int, *results: tuple[int, int]) -> CreditBuffer:
    padded = tuple(results) + ((0, 0),) * (5 - len(results))
    return CreditBuffer(counter, padded)


def test_host_algorithm_baseline_credits_nothing():
    assert codec.new_events(None, _buf(4, (1, 1), (2, 1))).results == ()


def test_host_algorithm_oldest_first():
    news = codec.new_events(10, _buf(12, (2, 1), (1, 1), (3, 1)))
    assert news.results == ((1, 1, 11), (2, 1, 12))  # each with its own counter
    assert news.lost == 0 and not news.reset


def test_host_algorithm_wraps_255_to_1():
    news = codec.new_events(254, _buf(2, (3, 1), (2, 1), (1, 1)))
    assert news.results == ((1, 1, 255), (2, 1, 1), (3, 1, 2))  # never 0


def test_host_algorithm_lost_events_credit_the_five():
    results = ((5, 1), (4, 1), (3, 1), (2, 1), (1, 1))
    news = codec.new_events(1, _buf(8, *results))
    assert news.lost == 2
    assert [r[:2] for r in news.results] == list(reversed(results))
    assert [r[2] for r in news.results] == [4, 5, 6, 7, 8]


def test_host_algorithm_reset():
    assert codec.new_events(77, _buf(0)).reset
    assert not codec.new_events(0, _buf(0)).reset
    assert codec.new_events(0, _buf(1, (2, 1))).results == ((2, 1, 1),)


def test_host_algorithm_no_change():
    assert codec.new_events(9, _buf(9, (1, 1))).results == ()


@pytest.mark.parametrize(
    ("last", "counter", "move", "steps"),
    [
        (10, 10, Move.SAME, 0),
        (10, 11, Move.FORWARD, 1),
        (10, 15, Move.FORWARD, 5),
        (10, 16, Move.LOST, 6),  # one event fell out of the buffer
        (255, 1, Move.FORWARD, 1),  # the wrap skips 0
        (253, 3, Move.FORWARD, 5),
        (253, 4, Move.LOST, 6),
        (0, 5, Move.FORWARD, 5),
        (0, 200, Move.LOST, 200),  # nothing is behind 0
        (10, 0, Move.RESET, 0),
        (10, 9, Move.BEHIND, 1),
        (1, 255, Move.BEHIND, 1),
        (10, 137, Move.LOST, 127),
        (10, 138, Move.BEHIND, 127),
    ],
)
def test_counter_moves(last, counter, move, steps):
    got = codec.counter_move(last, counter)
    assert (got.move, got.steps) == (move, steps)
    assert got.lost == (steps - 5 if move is Move.LOST else 0)


def test_counter_one_step_behind_gives_nothing():
    news = codec.new_events(12, _buf(11, (3, 1), (2, 1), (1, 1)))
    assert news.results == () and news.behind == 1 and not news.lost


def test_counter_minus_wraps_without_zero():
    assert [codec.counter_minus(2, k) for k in range(4)] == [2, 1, 255, 254]


@pytest.mark.parametrize(
    ("frame", "header", "error"),
    [
        (Frame(1, 2, 0, bytes(11)), codec.READ_CREDIT, None),
        (Frame(1, 2, 0, bytes(6)), codec.READ_CREDIT, "does not fit header 229"),
        (Frame(1, 2, 0, bytes(12)), codec.READ_CREDIT, "does not fit header 229"),
        (Frame(1, 3, 0, bytes(11)), codec.READ_CREDIT, "from address 3"),
        (Frame(2, 2, 0, bytes(11)), codec.READ_CREDIT, "addressed to 2"),
        (Frame(1, None, 0, bytes(6)), codec.COIN_ID, None),  # CRC: no source byte
        (Frame(1, 2, 5), codec.COIN_ID, None),  # a NAK fits any request
        (Frame(1, 2, 7), codec.SIMPLE_POLL, "not ACK/NAK/BUSY"),
        (Frame(1, 2, 0, b"SIM"), codec.MANUFACTURER, None),
        (Frame(1, 2, 0, b""), codec.MANUFACTURER, "does not fit"),
    ],
)
def test_reply_must_fit_its_request(frame, header, error):
    if error is None:
        codec.check_reply(frame, header, codec.COIN_ACCEPTOR)
    else:
        with pytest.raises(ProtocolError, match=error):
            codec.check_reply(frame, header, codec.COIN_ACCEPTOR)


@pytest.mark.parametrize(
    ("a", "b", "kind"),
    [
        (3, 0, EventKind.ACCEPTED),
        (0, 0, EventKind.NONE),
        (0, 1, EventKind.REJECTED),
        (0, 2, EventKind.REJECTED),
        (0, 128, EventKind.REJECTED),
        (0, 159, EventKind.REJECTED),
        (0, 17, EventKind.SUSPICIOUS),
        (0, 20, EventKind.SUSPICIOUS),
        (0, 254, EventKind.SUSPICIOUS),
        (0, 4, EventKind.UNKNOWN),
        (0, 160, EventKind.UNKNOWN),
    ],
)
def test_classify(a, b, kind):
    assert codec.classify(a, b) is kind


def test_event_codes_never_overlap():
    assert not codec.REJECTED_CODES & codec.SUSPICIOUS_CODES
    assert codec.event_name(20) == "coin on string"
    assert codec.event_name(130) == "inhibited coin 3"


def test_inhibit_mask_and_serial_number():
    assert codec.inhibit_mask([1, 2, 3, 6, 8, 10, 12]) == b"\xa7\x0a"
    assert codec.inhibit_mask([16]) == b"\x00\x80"
    assert codec.parse_serial_number(bytes.fromhex("4E 61 BC")) == 12345678
    with pytest.raises(ValueError):
        codec.inhibit_mask([17])
    with pytest.raises(ProtocolError):
        codec.parse_serial_number(b"\x01")


# --- fuzzing -----------------------------------------------------------------------------------

valid_frames = st.builds(
    codec.build_frame,
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 255),
    st.binary(max_size=20),
    st.sampled_from(["simple", "crc16"]),
)


@st.composite
def mangled(draw):
    raw = draw(st.one_of(valid_frames, st.just(CREDIT_REPLY), st.binary(max_size=80)))
    cut = draw(st.integers(0, len(raw)))
    extra = draw(st.binary(max_size=30))
    return raw[:cut] + extra


@settings(max_examples=300, deadline=None)
@given(data=mangled(), sizes=st.lists(st.integers(1, 9), max_size=20),
       checksum=st.sampled_from(["simple", "crc16"]))
def test_assembler_fuzz_only_protocol_errors(data, sizes, checksum):
    asm = codec.FrameAssembler(checksum)
    pos = 0
    for size in [*sizes, len(data)]:
        chunk, pos = data[pos : pos + size], pos + size
        try:
            for frame in asm.feed(chunk):
                assert len(frame.data) <= 255
        except ProtocolError:
            pass
        assert asm.pending <= 260


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=30), last=st.one_of(st.none(), st.integers(0, 255)))
def test_credit_parser_fuzz(data, last):
    try:
        buf = codec.parse_credit_buffer(data)
    except ProtocolError:
        return
    news = codec.new_events(last, buf)
    assert len(news.results) <= 5
