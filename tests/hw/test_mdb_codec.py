"""MDB codec and links: byte layouts of the MDB/ICP standard, the shared `FF 00 b` / `FF FF`
receive parser, the three links on fake ports (RET then NAK, mark/space parity, the bridge's
ASCII), and hypothesis on every parser: garbage gives protocol errors only, never a credit."""

from __future__ import annotations

import contextlib
import os
import termios
from collections.abc import Iterator
from typing import Any

import pytest
import serial
from hypothesis import given, settings
from hypothesis import strategies as st

from vendd.config import MdbConfig
from vendd.errors import ProtocolError
from vendd.hw.mdb import change, codec, payloads
from vendd.hw.mdb.codec import Answer, ChecksumError
from vendd.hw.mdb.links import BridgeLink, FramedLink, NoResponseError, UartLink, parse_bridge_line
from vendd.hw.mdb.payloads import (
    BillRouted,
    CashlessEvent,
    CoinDeposited,
    CoinsDispensedManually,
    Slugs,
    Status,
)


def test_control_bytes_and_addresses() -> None:
    assert (codec.ACK, codec.RET, codec.NAK) == (0x00, 0xAA, 0xFF)
    assert (codec.CHANGER, codec.CASHLESS, codec.BILL_VALIDATOR, codec.CASHLESS_2) == (
        0x08, 0x10, 0x30, 0x60)


@pytest.mark.parametrize(("address", "data", "wire"), [
    (0x0B, b"", "0B 0B"),  # changer POLL: the checksum includes the address
    (0x0D, b"\x21", "0D 21 2E"),  # DISPENSE 2 coins of type 1
    (0x0C, b"\x00\x0f\xff\xff", "0C 00 0F FF FF 19"),  # COIN TYPE: sum 0x219 mod 256
    (0x13, b"\x00\x00\xfa\x00\x65", "13 00 00 FA 00 65 72"),  # VEND REQUEST 2.50, item 101
    (0x35, b"\x01", "35 01 36"),  # ESCROW: stack
])
def test_command_layouts(address: int, data: bytes, wire: str) -> None:
    words = codec.command_words(address, data)
    assert bytes(b for b, _ in words) == bytes.fromhex(wire)
    assert [m for _, m in words] == [True] + [False] * (len(words) - 1)  # mode on the address


def test_answer_layouts_put_the_mode_bit_last() -> None:
    assert codec.answer_words(b"") == [(0x00, True)]  # a lone ACK
    assert codec.NAK_WORDS == [(0xFF, True)]
    assert codec.answer_words(b"\x52\x15") == [(0x52, False), (0x15, False), (0x67, True)]
    assert codec.answer_words(b"\x00") == [(0x00, False), (0x00, True)]  # "just reset" data


def test_escape_marks_mode_bytes_and_doubles_literal_ff() -> None:
    assert codec.escape(codec.command_words(0x0B)) == bytes.fromhex("FF 00 0B 0B")
    assert codec.escape([(0xFF, False), (0x01, False), (0xFF, True)]) == bytes.fromhex(
        "FF FF 01 FF 00 FF")
    assert bytes.fromhex("FF 00 00") == codec.BREAK


def test_receive_parser_on_parmrk_streams_split_anywhere() -> None:
    stream = bytes.fromhex("52 FF FF FF 00 51") + bytes.fromhex("FF 00 00")
    expected = [(0x52, False), (0xFF, False), (0x51, True), (0x00, True)]
    for cut in range(len(stream) + 1):
        p = codec.WordParser()
        assert p.feed(stream[:cut]) + p.feed(stream[cut:]) == expected
        assert not p.pending


def test_receive_parser_rejects_a_bad_escape_and_resynchronises() -> None:
    p = codec.WordParser()
    with pytest.raises(codec.EscapeError) as info:
        p.feed(bytes.fromhex("01 FF 12 02"))
    assert info.value.words == [(0x01, False), (0x02, False)]
    assert p.errors == 1 and p.feed(b"\x03") == [(0x03, False)]


def test_parse_answer() -> None:
    assert codec.parse_answer([(0x00, True)]) == codec.ANSWER_ACK
    assert codec.parse_answer([(0xFF, True)]) == codec.ANSWER_NAK
    assert codec.parse_answer(codec.answer_words(b"\x52\x15")) == Answer("data", b"\x52\x15")
    with pytest.raises(ChecksumError):
        codec.parse_answer([(0x52, False), (0x15, False), (0x68, True)])
    for bad in ([], [(0x12, True)], [(0x01, True), (0x01, True)], [(0x01, False)]):
        with pytest.raises(ProtocolError):
            codec.parse_answer(bad)


def test_assembler_splits_answers_and_bounds_length() -> None:
    asm = codec.AnswerAssembler(limit=4)
    words = [*codec.answer_words(b"\x01\x02"), (0x00, True)]
    assert asm.feed(words) == [words[:3], words[3:]]
    with pytest.raises(ProtocolError):
        asm.feed([(0x01, False)] * 5)
    assert asm.pending == 0


def test_command_lengths() -> None:
    assert codec.command_length(0x0B, None) == 0
    assert codec.command_length(0x0C, None) == 4
    assert codec.command_length(0x13, None) is None  # needs the subcommand
    assert codec.command_length(0x13, 0x00) == 5
    assert codec.command_length(0x13, 0x09) is None
    assert codec.command_length(0x35, None) == 1


# --- coin changer ------------------------------------------------------------------------------


def test_changer_setup_and_tube_status() -> None:
    setup = payloads.parse_changer_setup(bytes.fromhex("02 18 40 05 02 00 07 01 02 05 14"))
    assert setup == payloads.ChangerSetup(2, 0x1840, 5, 2, 0x0007, (1, 2, 5, 20))
    tubes = payloads.parse_tube_status(bytes.fromhex("00 04 0A 14 32"))
    assert tubes.full == 0x0004 and tubes.counts == (10, 20, 50)
    for bad in (b"\x02" * 6, b"\x02" * 24):
        with pytest.raises(ProtocolError):
            payloads.parse_changer_setup(bad)
    with pytest.raises(ProtocolError):
        payloads.parse_tube_status(b"\x00")


def test_changer_poll_items() -> None:
    items = payloads.parse_changer_poll(bytes.fromhex("52 15 43 00 72 00 A1 13 23 0B 01 0C 0E"))
    assert items == [
        CoinDeposited(2, "tubes", 21), CoinDeposited(3, "cashbox", 0),
        CoinDeposited(2, "rejected", 0), CoinsDispensedManually(1, 2, 19), Slugs(3),
        Status(0x0B, "just_reset"), Status(0x01, "escrow_request"), Status(0x0C, "coin_jam"),
        Status(0x0E, "status_0e"),
    ]
    with pytest.raises(ProtocolError):
        payloads.parse_changer_poll(b"\x52")  # a deposit cut short


def test_dispense_byte() -> None:
    assert payloads.dispense_byte(1, 2) == b"\x21"
    with pytest.raises(ValueError):
        payloads.dispense_byte(1, 16)


def test_fewest_coins_is_not_greedy() -> None:
    values = {0: 10, 1: 25}
    assert change.fewest_coins(30, values, {0: 5, 1: 5}) == {0: 3}  # greedy would fail
    usd = {0: 5, 1: 10, 2: 25, 3: 100}
    assert change.fewest_coins(65, usd, {0: 9, 1: 9, 2: 9}) == {0: 1, 1: 1, 2: 2}
    assert change.fewest_coins(50, usd, {0: 1, 1: 1}) == {0: 1, 1: 1}  # short: the most it can
    assert change.fewest_coins(0, usd, {0: 1}) == {}
    assert change.payable(20, usd, {0: 1, 1: 1}) == frozenset({0, 5, 10, 15})


def test_value_scaling() -> None:
    assert codec.to_cents(20, 5, 2, 2) == 100
    assert codec.to_cents(1, 1, 0, 2) == 100
    assert codec.to_cents(150, 1, 3, 2) == 15
    with pytest.raises(ProtocolError):
        codec.to_cents(155, 1, 3, 2)
    assert codec.from_cents(350, 1, 2, 2) == 350
    assert codec.from_cents(350, 5, 2, 2) == 70
    with pytest.raises(ProtocolError):
        codec.from_cents(352, 5, 2, 2)
    assert codec.type_mask([0, 1, 2, 3]) == b"\x00\x0f"
    assert codec.be16(0x1234) == b"\x12\x34" and codec.u16(b"\x01\x5e", 0) == 350


# --- bill validator ----------------------------------------------------------------------------


def test_bill_setup_stacker_and_poll() -> None:
    raw = bytes.fromhex("01 18 40 00 64 02 01 F4 00 00 FF 01 05 0A 14")
    setup = payloads.parse_bill_setup(raw)
    assert (setup.scaling, setup.decimals, setup.stacker_capacity, setup.escrow,
            setup.credits) == (100, 2, 500, True, (1, 5, 10, 20))
    assert payloads.parse_stacker(b"\x80\x05") == payloads.Stacker(True, 5)
    assert payloads.parse_bill_poll(bytes.fromhex("91 81 A1 C2 43 06 0B")) == [
        BillRouted(1, "escrow"), BillRouted(1, "stacked"), BillRouted(1, "returned"),
        BillRouted(2, "disabled_rejected"), payloads.DisabledAttempts(3),
        Status(6, "just_reset"), Status(0x0B, "rejected")]
    with pytest.raises(ProtocolError):
        payloads.parse_stacker(b"\x80")
    with pytest.raises(ProtocolError):
        payloads.parse_bill_setup(raw[:10])


# --- cashless ---------------------------------------------------------------------------------


def test_cashless_poll_answers() -> None:
    cfg = payloads.ReaderConfig(1, 0x1840, 1, 2, 3, 0)
    raw = (payloads.reader_config_answer(cfg) + bytes.fromhex("03 03 E8 05 01 5E 06 07 0A 42 0B"))
    assert payloads.parse_cashless_poll(raw) == [
        CashlessEvent("reader_config", config=cfg), CashlessEvent("begin_session", amount=1000),
        CashlessEvent("vend_approved", amount=350), CashlessEvent("vend_denied"),
        CashlessEvent("end_session"), CashlessEvent("malfunction", code=0x42),
        CashlessEvent("out_of_sequence")]
    assert payloads.parse_cashless_poll(b"\x0b\x01", level=2) == [CashlessEvent("out_of_sequence")]
    assert payloads.parse_cashless_poll(b"\x00") == [CashlessEvent("just_reset")]
    for bad in (b"\x03\x03", b"\x05", b"\x55"):
        with pytest.raises(ProtocolError):
            payloads.parse_cashless_poll(bad)


# --- hypothesis: every parser gives results or protocol errors, nothing else -------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_every_parser_only_raises_protocol_errors(data: bytes) -> None:
    parsers: list[Any] = [
        payloads.parse_changer_setup, payloads.parse_tube_status, payloads.parse_changer_poll,
        payloads.parse_bill_setup, payloads.parse_stacker, payloads.parse_bill_poll,
        payloads.parse_cashless_poll, lambda d: payloads.parse_cashless_poll(d, 2),
        parse_bridge_line, lambda d: codec.WordParser().feed(d),
    ]
    for parse in parsers:
        with contextlib.suppress(ProtocolError):
            parse(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=60))
def test_random_streams_through_the_receive_pipeline(stream: bytes) -> None:
    parser, asm = codec.WordParser(), codec.AnswerAssembler()
    try:
        for words in asm.feed(parser.feed(stream)):
            answer = codec.parse_answer(words)
            if answer.kind == "data":
                assert codec.checksum(answer.data) == words[-1][0]
                payloads.parse_changer_poll(answer.data)
    except ProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=16), st.integers(1, 255))
def test_a_wrong_checksum_never_gives_data(data: bytes, error: int) -> None:
    words = codec.answer_words(data)
    words[-1] = ((words[-1][0] + error) & 0xFF, True)
    stream = codec.escape(words)
    parser, asm = codec.WordParser(), codec.AnswerAssembler()
    with pytest.raises(ProtocolError):
        for answer in asm.feed(parser.feed(stream)):
            codec.parse_answer(answer)
        raise ProtocolError("no whole answer")


# --- links on fake ports ----------------------------------------------------------------------


class FakePort:
    """Scripted answers; records what was written and at which parity."""

    def __init__(self, answers: list[bytes], fd: int | None = None) -> None:
        self.answers = list(answers)
        self.buffer = b""
        self.written: list[tuple[str, bytes]] = []
        self.parity = serial.PARITY_NONE
        self.timeout: float | None = 0.01
        self._fd = fd

    def fileno(self) -> int:
        assert self._fd is not None
        return self._fd

    @property
    def in_waiting(self) -> int:
        return len(self.buffer)

    def write(self, data: bytes) -> int:
        self.written.append((self.parity, bytes(data)))
        command = data[:1] in (b"\xff", b"R") or self.parity == serial.PARITY_MARK
        if command and self.answers:  # the device answers a command
            self.buffer += self.answers.pop(0)
        return len(data)

    def read(self, size: int = 1) -> bytes:
        out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out

    def readline(self) -> bytes:
        line, sep, rest = self.buffer.partition(b"\n")
        self.buffer = rest
        return line + sep

    def flush(self) -> None:
        pass

    def reset_input_buffer(self) -> None:
        self.buffer = b""

    def send_break(self, duration: float) -> None:
        self.written.append(("break", b""))

    def close(self) -> None:
        pass


def mdb_config(link: str, **kw: Any) -> MdbConfig:
    return MdbConfig(link=link, port="fake", bus_setup_ms=0, **kw)  # type: ignore[arg-type]


def test_framed_link_acks_data() -> None:
    port = FakePort([codec.escape(codec.answer_words(b"\x52\x15"))])
    link = FramedLink(mdb_config("sim"), opener=lambda: port)
    link.open()
    assert link.transact(0x0B) == Answer("data", b"\x52\x15")
    assert [w for _, w in port.written] == [bytes.fromhex("FF 00 0B 0B"), b"\x00"]


class RetPort(FakePort):
    """Answers a command with `first` and a RET with `again`."""

    def __init__(self, first: bytes, again: bytes) -> None:
        super().__init__([first])
        self.again = again

    def write(self, data: bytes) -> int:
        if data == b"\xaa":
            self.buffer += self.again
        return super().write(data)


def test_framed_link_sends_ret_then_nak_on_bad_checksums() -> None:
    bad = codec.escape([(0x52, False), (0x15, False), (0x00, True)])
    good = codec.escape(codec.answer_words(b"\x52\x15"))
    port = RetPort(bad, bad)
    link = FramedLink(mdb_config("sim", retries=0), opener=lambda: port)
    link.open()
    with pytest.raises(NoResponseError):
        link.transact(0x0B)
    # The command, RET, then NAK (a literal FF: escaped on the framed link).
    assert [w for _, w in port.written] == [bytes.fromhex("FF 00 0B 0B"), b"\xaa", b"\xff\xff"]
    assert link.checksum_errors == 2
    # A retransmission that arrives whole after the RET is taken and ACKed.
    port = RetPort(bad, good)
    link = FramedLink(mdb_config("sim", retries=0), opener=lambda: port)
    link.open()
    assert link.transact(0x0B) == Answer("data", b"\x52\x15")
    assert [w for _, w in port.written][1:] == [b"\xaa", b"\x00"]


def test_framed_link_retries_silence_then_gives_up() -> None:
    port = FakePort([b"", codec.escape([(0x00, True)])])
    link = FramedLink(mdb_config("sim", retries=1), opener=lambda: port)
    link.open()
    assert link.transact(0x0B) == codec.ANSWER_ACK
    assert link.timeouts == 1
    with pytest.raises(NoResponseError):
        link.transact(0x0B)


@pytest.fixture
def pty_fd() -> Iterator[int]:
    master, slave = os.openpty()
    yield slave
    os.close(master)
    os.close(slave)


def test_uart_link_mark_then_space_parity_and_parmrk(pty_fd: int) -> None:
    port = FakePort([bytes.fromhex("52 15 FF 00 67")], fd=pty_fd)
    link = UartLink(mdb_config("uart"), opener=lambda: port)
    link.open()
    assert port.parity == serial.PARITY_SPACE
    iflag = termios.tcgetattr(pty_fd)[0]
    assert iflag & termios.PARMRK and iflag & termios.INPCK and not iflag & termios.ISTRIP
    assert link.transact(0x0C, b"\x00\x0f\xff\xff") == Answer("data", b"\x52\x15")
    assert port.written == [
        (serial.PARITY_MARK, b"\x0c"),  # the address byte with the mode bit
        (serial.PARITY_SPACE, bytes.fromhex("00 0F FF FF 19")),  # a literal FF stays one byte
        (serial.PARITY_SPACE, b"\x00"),  # ACK
    ]
    link.reset_bus()
    assert port.written[-1] == ("break", b"")


def test_bridge_link_ascii() -> None:
    port = FakePort([b"p,5215\n", b"p,ACK\n", b"p,NACK\n", b"garbage\n"])
    link = BridgeLink(mdb_config("bridge", retries=0), opener=lambda: port)
    link.open()
    assert port.written[0][1] == b"M,1\n"
    port.buffer = b""
    assert link.transact(0x0B) == Answer("data", b"\x52\x15")
    assert port.written[-1][1] == b"R,0B\n"
    assert link.transact(0x0D, b"\x21") == codec.ANSWER_ACK
    assert port.written[-1][1] == b"R,0D,21\n"
    for _ in range(2):
        with pytest.raises(NoResponseError):
            link.transact(0x0B)
    assert parse_bridge_line(b"p, ack\r\n") == codec.ANSWER_ACK
