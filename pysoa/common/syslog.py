"""`SyslogHandler`: a syslog handler that keeps each datagram under the path MTU, truncating or fragmenting records."""

import logging
import logging.handlers
import socket
import sys
from typing import ClassVar

from pysoa.common.log_text import safe_message

__all__ = ('SyslogHandler',)

_WORST_CASE_MTU = 576
_DATAGRAM_HEADER_BYTES = 28  # 20 bytes of IPv4 header + 8 of UDP header
_LINUX_IP_MTU = 14  # getsockopt option for the path MTU of a connected socket; not exported by `socket`
_CONTINUED = b"... (cont'd)"


def _path_mtu(host: str) -> int:
    """The path MTU to `host`, read from the route without sending anything; worst case when unknown."""
    if not sys.platform.startswith('linux'):
        return _WORST_CASE_MTU
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            # Connecting a UDP socket sends nothing; it just picks the route, whose MTU the kernel reports.
            probe.connect((host, 9))
            mtu = probe.getsockopt(socket.IPPROTO_IP, _LINUX_IP_MTU)
    except OSError:
        return _WORST_CASE_MTU
    return mtu if mtu >= _WORST_CASE_MTU else _WORST_CASE_MTU


class SyslogHandler(logging.handlers.SysLogHandler):
    """A SysLogHandler that never loses a record to the datagram size limit: it truncates or fragments it.

    Over UDP, records are kept under the path MTU to the syslog host (`overflow` chooses between
    splitting a long record into several packets, each repeating the record's preamble, and
    truncating it). Over TCP or a Unix socket, records are truncated at 1 MiB.
    """

    OVERFLOW_BEHAVIOR_FRAGMENT = 0
    """Split a record that is too long into several packets, each repeating the record's preamble."""
    OVERFLOW_BEHAVIOR_TRUNCATE = 1
    """Cut a record that is too long at the limit (on a character boundary)."""

    _MINIMUM_MTU_CACHE: ClassVar[dict[str, int]] = {}

    def __init__(
        self,
        address: tuple[str, int] | str = ('localhost', logging.handlers.SYSLOG_UDP_PORT),
        facility: int = logging.handlers.SysLogHandler.LOG_USER,
        socket_type: int | None = None,
        overflow: int = OVERFLOW_BEHAVIOR_FRAGMENT,
    ) -> None:
        super().__init__(address, facility, socket_type)  # type: ignore[arg-type,unused-ignore]  # typeshed: SocketKind
        self.overflow: int
        self.maximum_length: int
        if not self.unixsocket and self.socktype == socket.SOCK_DGRAM and isinstance(address, (tuple, list)):
            host = address[0]
            if host not in self._MINIMUM_MTU_CACHE:
                # Routes rarely change while a process runs, and every handler to the same host shares one.
                self._MINIMUM_MTU_CACHE[host] = _path_mtu(host)
            self.maximum_length = self._MINIMUM_MTU_CACHE[host] - _DATAGRAM_HEADER_BYTES
            self.overflow = overflow
        else:
            self.maximum_length = 1024 * 1024
            self.overflow = self.OVERFLOW_BEHAVIOR_TRUNCATE

    def __del__(self) -> None:
        # Handlers built and dropped without `close()` (tests, reconfigured logging) must not leak their socket,
        # which would also raise ResourceWarning. `close()` itself is not called here: it takes logging's locks.
        sock = getattr(self, 'socket', None)
        if sock is not None:
            sock.close()

    def emit(self, record: logging.LogRecord) -> None:
        """Format the record and send it in as many packets as the length limit and overflow behaviour need."""
        try:
            self._send(self._packets(record))
        except Exception:
            self.handleError(record)

    def _packets(self, record: logging.LogRecord) -> list[bytes]:
        formatted = self.format(record)
        encoded = formatted.encode('utf-8')
        ident = getattr(self, 'ident', None) or b''
        prefix = ident.encode('utf-8') if isinstance(ident, str) else ident
        suffix = b'\x00' if getattr(self, 'append_nul', True) else b''
        priority = f'<{self.encodePriority(self.facility, self.mapPriority(record.levelname)):d}>'.encode()
        head = priority + prefix
        limit = self.maximum_length - len(prefix) - len(suffix) - len(priority)

        if len(encoded) < limit:
            return [head + encoded + suffix]
        if self.overflow == self.OVERFLOW_BEHAVIOR_TRUNCATE:
            return [head + self._cleanly_slice_encoded_string(encoded, limit)[0] + suffix]

        # Fragment: what precedes the message (time, level, ids...) is repeated in every packet and
        # the rest is spread over as many packets as needed, each marked as a continuation.
        message_start = formatted.find(safe_message(record)[:40])
        if message_start < 0:
            message_start = 30
            preamble = (formatted[:message_start] + ' ').encode('utf-8')
        else:
            preamble = formatted[:message_start].encode('utf-8')
        remaining = formatted[message_start:].encode('utf-8')
        chunk_limit = limit - len(preamble) - len(_CONTINUED)

        packets = []
        number = 1
        while remaining:
            marker = b''
            if number > 1:
                marker = b"(cont'd #%d) ..." % number
            chunk, remaining = self._cleanly_slice_encoded_string(remaining, chunk_limit - len(marker))
            if not chunk:
                # The limit is smaller than one character: send what fits rather than loop forever.
                return [head + self._cleanly_slice_encoded_string(encoded, limit)[0] + suffix]
            packets.append(head + preamble + marker + chunk + (_CONTINUED if remaining else b'') + suffix)
            number += 1
        return packets

    def _send(self, parts: list[bytes]) -> None:
        for part in parts:
            if self.unixsocket:
                try:
                    self._socket().send(part)
                except OSError:
                    # The syslog daemon may have restarted: reconnect once and resend this part.
                    self._socket().close()
                    self._connect_unixsocket(self.address)  # type: ignore[attr-defined]  # private in the stdlib, not in typeshed
                    self._socket().send(part)
            elif self.socktype == socket.SOCK_DGRAM:
                self._socket().sendto(part, self.address)
            else:
                self._socket().sendall(part)

    def _socket(self) -> socket.socket:
        # typeshed does not declare the socket SysLogHandler keeps (and replaces on reconnection).
        sock: socket.socket = getattr(self, 'socket')  # noqa: B009
        return sock

    @staticmethod
    def _cleanly_slice_encoded_string(encoded_string: bytes, length_limit: int) -> tuple[bytes, bytes]:
        """Split UTF-8 bytes into (at most `length_limit` bytes, the rest), never inside a character."""
        if length_limit >= len(encoded_string):
            return encoded_string, b''
        cut = max(length_limit, 0)
        # UTF-8 continuation bytes look like 0b10xxxxxx: back up to the start of the character.
        while cut > 0 and encoded_string[cut] & 0xC0 == 0x80:
            cut -= 1
        return encoded_string[:cut], encoded_string[cut:]
