"""Header amplification: a small request must not make the gate send large headers.

Before the fix, a 4.3 KB request (a 803-byte Host of 400 labels, 250 cookie names) made 49.7 MB
of Set-Cookie lines, one per name per parent domain: 11,500 bytes out per byte in.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_client import run
from consent_gate import ConsentGate, Policy
from consent_gate._types import Headers, Receive, Scope, Send
from consent_gate.cookies import MAX_EXPIRY_BYTES, MAX_EXPIRY_LINES

NO_LOG = {"log": {"enabled": False}}
CONSENT_LINE = 400  # the consent cookie itself: name, signed value and attributes


async def _page(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"content-type", b"text/html")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"<html><body>hi</body></html>"})


def _gate(**policy: object) -> ConsentGate:
    return ConsentGate(_page, secret_key="s" * 32, policy=Policy.from_dict({**NO_LOG, **policy}))


def _worst(host: bytes, names: int) -> Headers:
    """A long Host and thousands of refused cookie names (GA's `_ga_*`), each sent twice."""
    cookies = "; ".join(f"_ga_{n}=1" for n in range(names) for _ in range(2)).encode()
    return [
        (b"host", host),
        (b"cookie", cookies + b"; _ga=1; _fbp=1; _ga=2"),
        (b"content-type", b"application/json"),
        (b"origin", b"http://" + host),
    ]


def _expiry_bytes(headers: Headers) -> int:
    return sum(len(v) for k, v in headers if k == b"set-cookie" and b"Max-Age=0" in v)


def _check(gate: ConsentGate, headers: Headers) -> list[float]:
    """The page path and the decision path; both bounded. Their bytes out per byte in."""
    ratios = []
    for method, path, body in (
        ("GET", "/", b""),
        ("POST", "/consent-gate/consent", b'{"action": "reject_all"}'),
    ):
        response = run(gate, method, path, headers, body)
        assert response.status == 200
        assert len(response.values(b"set-cookie")) <= MAX_EXPIRY_LINES + 1
        assert _expiry_bytes(response.headers) <= MAX_EXPIRY_BYTES
        assert response.header_bytes < MAX_EXPIRY_BYTES + 4096  # CSP, Vary, consent cookie...
        ratios.append(response.header_bytes / response.bytes_in)
    return ratios


def test_the_worst_request_gets_bounded_headers_on_a_page_and_a_decision() -> None:
    headers = _worst(b"a." * 400 + b"com", names=250)  # the 4.3 KB request of the report
    ratios = _check(_gate(), headers)
    print(
        f"\nbytes out per byte in (4.3 KB request): page {ratios[0]:.2f}, decision {ratios[1]:.2f}"
    )
    assert max(ratios) < 2


def test_a_huge_request_gets_no_more_than_a_small_one() -> None:
    headers = _worst(b"a." * 20_000 + b"example.com", names=5_000)  # ~150 KB
    ratios = _check(_gate(), headers)
    print(f"\nbytes out per byte in (150 KB request): {max(ratios):.3f}")
    assert max(ratios) < 0.1


def test_a_host_outside_the_site_domains_gives_no_domain_of_its_own() -> None:
    gate = _gate(site={"domains": ["example.com"]})
    for headers in (_worst(b"www.attacker.example", 3), _worst(b"a." * 100 + b"com", 3)):
        response = run(gate, "GET", "/", headers)
        domains = {
            line.partition(b"; Domain=")[2]
            for line in response.values(b"set-cookie")
            if b"Max-Age=0" in line
        }
        assert domains == {b"", b"example.com"}


def test_a_host_inside_the_site_domains_gives_itself_and_its_domain() -> None:
    response = run(
        _gate(site={"domains": ["example.com"]}), "GET", "/", _worst(b"www.example.com", 1)
    )
    lines = [line for line in response.values(b"set-cookie") if line.startswith(b"_ga_0=")]
    assert [line.partition(b"; Domain=")[2] for line in lines] == [
        b"",
        b"example.com",
        b"www.example.com",
    ]


@settings(max_examples=300, deadline=None)
@given(
    host=st.binary(max_size=3000),
    names=st.lists(
        st.one_of(
            st.sampled_from(["_ga", "_fbp", "_gid"]), st.text(max_size=40).map("_ga_".__add__)
        ),
        max_size=400,
    ),
)
def test_no_host_and_no_cookie_names_give_more_than_the_cap(host: bytes, names: list[str]) -> None:
    cookies = "; ".join(f"{name}=1" for name in names).encode("utf-8", "surrogatepass")
    response = run(GATE, "GET", "/", [(b"host", host), (b"cookie", cookies)])
    assert response.status == 200
    assert _expiry_bytes(response.headers) <= MAX_EXPIRY_BYTES
    assert len(response.values(b"set-cookie")) <= MAX_EXPIRY_LINES


GATE = _gate()
