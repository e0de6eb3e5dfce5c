"""A failed TLS handshake with the broker, said as what it is: a certificate from an unknown
CA, a host name the certificate does not name, an expired (or not yet valid) certificate, or
a client certificate the broker wants or refuses. Used by the daemon's connection (log and
journaled fault) and by `vendd selftest`."""

from __future__ import annotations

import socket
import ssl

# OpenSSL X509_V_ERR_* codes -> (fault code, what to do).
_VERIFY = {
    2: "tls_unknown_ca", 18: "tls_unknown_ca", 19: "tls_unknown_ca", 20: "tls_unknown_ca",
    21: "tls_unknown_ca", 9: "tls_not_yet_valid", 10: "tls_expired", 62: "tls_hostname_mismatch",
    64: "tls_hostname_mismatch",
}
_WORDS = {
    "tls_unknown_ca": "the broker's certificate is not signed by mqtt.tls.ca_file (unknown CA)",
    "tls_expired": "the broker's certificate has expired",
    "tls_not_yet_valid": "the broker's certificate is not valid yet (is the Pi's clock right?)",
    "tls_hostname_mismatch": "the broker's certificate does not name mqtt.host "
                             "(hostname mismatch)",
    "tls_client_cert_required": "the broker wants a client certificate (mqtt.tls.cert_file "
                                "and key_file)",
    "tls_client_cert_refused": "the broker refused our client certificate",
    "tls_not_tls": "the broker's port does not speak TLS",
}


def tls_failure(exc: BaseException | None) -> tuple[str, str] | None:
    """(fault code, one line) for a TLS handshake failure, None for any other error."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = _VERIFY.get(exc.verify_code, "tls_failed")
        detail = _WORDS.get(code, "the broker's certificate was refused")
        return code, f"{detail}: {exc.verify_message}"
    if not isinstance(exc, ssl.SSLError):
        return None
    reason = str(exc.reason or exc).upper()
    if "CERTIFICATE_REQUIRED" in reason:
        code = "tls_client_cert_required"
    elif "BAD_CERTIFICATE" in reason or "UNKNOWN_CA" in reason or "CERTIFICATE_UNKNOWN" in reason:
        code = "tls_client_cert_refused"
    elif "WRONG_VERSION_NUMBER" in reason or "RECORD_LAYER" in reason:
        code = "tls_not_tls"
    else:
        return "tls_failed", f"TLS handshake failed: {exc.reason or exc}"
    return code, f"{_WORDS[code]} ({exc.reason})"


def tls_probe(host: str, port: int, context: ssl.SSLContext,
              timeout_s: float = 5.0) -> tuple[str, str] | None:
    """One TLS handshake and a short read, for `selftest` when the broker did not answer: with
    TLS 1.3 a broker that wants (or refuses) our client certificate says so only after the
    handshake. None when TLS itself is fine."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            tls.settimeout(1.0)
            tls.recv(1)
    except (ssl.SSLError, ssl.CertificateError) as exc:
        return tls_failure(exc)
    except OSError:  # a timeout means the TLS session is up; other errors are not TLS's
        return None
    return None
