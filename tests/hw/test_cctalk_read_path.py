"""The ccTalk driver's read path fed with random garbage (echoed or not, either checksum):
only protocol errors come out, and no byte soup ever credits a coin."""

from __future__ import annotations

from cctalk_rig import Events
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vendd.config import CctalkConfig, CoinConfig
from vendd.errors import DeviceError, ProtocolError
from vendd.hw.cctalk import codec
from vendd.hw.cctalk.driver import CctalkCoinAcceptor


class FakeSerial:
    """Plays back `data` whatever is written; an empty read is a timeout."""

    def __init__(self, data: bytes) -> None:
        self.data = bytearray(data)

    def read(self, size: int = 1) -> bytes:
        out = bytes(self.data[:size])
        del self.data[:size]
        return out

    def write(self, data: bytes) -> int:
        return len(data)

    @property
    def in_waiting(self) -> int:
        return 0  # the bytes "arrive" after each request

    def reset_input_buffer(self) -> None:
        pass

    def close(self) -> None:
        pass


def _fake_driver(data: bytes, echo: bool, checksum: str) -> tuple[CctalkCoinAcceptor, Events]:
    cfg = CctalkConfig(kind="cctalk", port="loop://", echo=echo, checksum=checksum, retries=1,
                       coins=[CoinConfig(value=5, label="5c", position=1)])
    fake = FakeSerial(data)
    driver = CctalkCoinAcceptor("coin_acceptor", cfg, serial_factory=lambda: fake)
    events = Events()
    driver._post = events
    driver.line.ser = fake
    driver._need_init = False
    driver._mark = (12345678, 0)
    return driver, events


def _reply(checksum: str, data: bytes) -> bytes:
    return codec.build_frame(1, 2, 0, data, checksum)


@st.composite
def wire_bytes(draw):
    echo = draw(st.booleans())
    checksum = draw(st.sampled_from(["simple", "crc16"]))
    request = codec.build_frame(2, 1, codec.READ_CREDIT, b"", checksum)
    good = _reply(checksum, bytes([1, 1, 1] + [0] * 8))
    body = draw(st.one_of(st.binary(max_size=40), st.just(good).map(bytearray).map(bytes)))
    cut = draw(st.integers(0, len(body)))
    flip = draw(st.integers(0, 255))
    body = bytearray(body[:cut] + draw(st.binary(max_size=8)))
    if body and flip:
        body[flip % len(body)] ^= flip
    prefix = request if echo and draw(st.booleans()) else b""
    return prefix + bytes(body), echo, checksum


def _holds_a_valid_reply(data: bytes, checksum: str) -> bool:
    """Whether a checksum-valid 229 reply stands somewhere in `data`: mangled bytes can form
    one by chance (1 in 256 with the simple checksum), and that one may rightly credit."""
    size = 5 + 11
    for start in range(len(data) - size + 1):
        try:
            codec.parse_frame(data[start:start + size], checksum)
        except ProtocolError:
            continue
        return True
    return False


@settings(max_examples=300, deadline=None)
@given(wire=wire_bytes())
def test_read_path_garbage_only_protocol_errors_never_credit(wire):
    data, echo, checksum = wire
    assume(not _holds_a_valid_reply(data, checksum))
    driver, _ = _fake_driver(data, echo, checksum)
    request = codec.build_frame(2, 1, codec.READ_CREDIT, b"", checksum)
    try:
        driver.line.read_reply(request, codec.READ_CREDIT)
    except ProtocolError:
        pass
    except DeviceError as exc:  # a timeout: the bytes ran out
        assert "no " in str(exc)
    driver2, events2 = _fake_driver(data * 3, echo, checksum)
    driver2.poll_once()  # never raises
    assert events2.credits() == []
