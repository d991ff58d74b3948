"""The built-in catalogue as data: the invariants the rules rely on, and what it recognises."""

from __future__ import annotations

import re
from itertools import combinations
from pathlib import Path

import pytest

from consent_gate.cookies import CookieRules
from consent_gate.html import HtmlRewriter
from consent_gate.policy import Policy, extended_catalogue, load_catalogue
from consent_gate.rules import Classifier, Match, Rules

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "consent_gate"

# The most frequent unknown trackers of a 30-page measurement (comScore, Salesforce Krux, ...),
# one real script or frame URL each, and the category that must hold it.
FREQUENT_UNKNOWNS = {
    "https://sb.scorecardresearch.com/cs/123/beacon.js": "marketing",
    "https://cdn.krxd.net/controltag/abc.js": "marketing",
    "https://platform.twitter.com/widgets.js": "marketing",
    "https://c.amazon-adsystem.com/aax2/apstag.js": "marketing",
    "https://widgets.outbrain.com/outbrain.js": "marketing",
    "https://secure.quantserve.com/quant.js": "analytics",
    "https://micro.rubiconproject.com/prebid/dynamic/1.js": "marketing",
    "https://js-agent.newrelic.com/nr-spa-1.2.js": "analytics",
    "https://cdn.parsely.com/keys/example.com/p.js": "analytics",
    "https://s.skimresources.com/js/123X456.skimlinks.js": "marketing",
    "https://cdn.taboola.com/libtrc/example/loader.js": "marketing",
    "https://s7.addthis.com/js/300/addthis_widget.js": "marketing",
    "https://static.chartbeat.com/js/chartbeat.js": "analytics",
    "https://static.criteo.net/js/ld/publishertag.js": "marketing",
    "https://example.disqus.com/embed.js": "marketing",
    "https://nexus.ensighten.com/acme/prod/Bootstrap.js": "analytics",
    "https://www.facebook.com/plugins/like.php?href=x": "marketing",
    "https://script.ioam.de/iam.js": "analytics",
    "https://js-sec.indexww.com/ht/p/1-2.js": "marketing",
    "https://contextual.media.net/dmedianet.js?cid=1": "marketing",
    "https://z.moatads.com/acme/moatad.js": "marketing",
    "https://cdn.optimizely.com/js/123.js": "analytics",
    "https://stats.wp.com/e-202449.js": "analytics",
    "https://mc.yandex.ru/metrika/tag.js": "analytics",
    "https://gapl.hit.gemius.pl/xgemius.js": "marketing",
}
# Trackers that leaked on the real-page corpus (tests/data/pages) from hosts of shared platforms.
CORPUS_LEAKS = {
    "https://staticxx.facebook.com/connect/xd_arbiter/r/fTmIQU3LxvB.js?version=42": "marketing",
    "https://s0.2mdn.net/instream/html5/gpt_proxy.js": "marketing",
    "https://g.bing.com/uac/request?noperf=1;adclntid=1002": "marketing",
    "https://d8rk54i4mohrb.cloudfront.net/js/reach.js": "analytics",  # SimpleReach's own
    "https://d31qbv1cthcecs.cloudfront.net/atrk.js": "analytics",  # Alexa's own
    "https://www.facebook.com/connect/ping?client_id=1": "marketing",
    "https://graph.facebook.com/233582907099276/picture": "marketing",
    "https://gcdn.2mdn.net/videoplayback/id/6c23d570594b13b0/itag/347": "marketing",
    "https://s.ntv.io/serve/load.js": "marketing",  # Nativo, filed under Quantcast upstream
    "https://platform.instagram.com/en_US/embeds.js": "marketing",
    "https://secure.assets.tumblr.com/post.js": "marketing",
    "https://s.yimg.com/ss/rapid-3.45.0.js": "marketing",
    "https://s.yimg.com/wi/ytc.js": "marketing",
    "https://extend.vimeocdn.com/ga/115027220.js": "analytics",
    "https://t.co/1/i/adsct?bci=3&eci=4&event=%7B%7D": "marketing",
}
# The API hosts of analytics SDKs sites bundle into their own scripts (tests/data/sdks): nothing
# in the HTML names them, so only these entries let the run-time gate hold what the SDK sends.
BUNDLED_SDK_URLS = {
    "https://us.i.posthog.com/e/?retry_count=1": "posthog",
    "https://eu.i.posthog.com/flags/?v=2&compression=base64": "posthog",
    "https://us-assets.i.posthog.com/array/phc_x/config.js": "posthog",
    "https://api-js.mixpanel.com/track/?verbose=1": "mixpanel",
    "https://api.segment.io/v1/t": "segment",
    "https://cdn.segment.com/v1/projects/key/settings": "segment",
    "https://api2.amplitude.com/2/httpapi": "amplitude",
    "https://api.eu.amplitude.com/2/httpapi": "amplitude",
    "https://sr-client-cfg.amplitude.com/config/key": "amplitude",
}
# ... while the rest of those platforms stays unclaimed.
SHARED_URLS = [
    "https://d1111111111111.cloudfront.net/app.js",  # another customer's distribution
    "https://cloudfront.net/x.js",
    "https://www.facebook.com/",
    "https://www.bing.com/search?q=x",
    "https://www.instagram.com/acme/",
    "https://www.tumblr.com/acme",
    "https://s.yimg.com/cv/apiv2/default/logo.png",
    "https://i.vimeocdn.com/video/1.jpg",
    "https://t.co/AbCdEf123",
]
# Platforms whose hosts serve many products: only URL globs may claim them.
SHARED = {
    "google.com", "googleapis.com", "gstatic.com", "facebook.com", "facebook.net",
    "microsoft.com", "bing.com", "apple.com", "amazon.com", "amazonaws.com", "cloudfront.net",
    "akamaihd.net", "jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com", "cloudflare.com",
    "yahoo.com", "linkedin.com", "twitter.com", "x.com", "wordpress.com", "wp.com",
    "github.com", "fastly.net", "yandex.ru", "baidu.com",
}  # fmt: skip


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(load_catalogue())


@pytest.mark.parametrize("url", sorted(FREQUENT_UNKNOWNS))
def test_the_most_frequent_unknowns_are_known_now(classifier: Classifier, url: str) -> None:
    match = classifier.url(url)
    assert match is not None, url
    assert match.category == FREQUENT_UNKNOWNS[url]


@pytest.mark.parametrize("url", sorted(CORPUS_LEAKS))
def test_trackers_on_shared_platforms_are_known(classifier: Classifier, url: str) -> None:
    match = classifier.url(url)
    assert match is not None, url
    assert match.category == CORPUS_LEAKS[url]


@pytest.mark.parametrize("url", sorted(BUNDLED_SDK_URLS))
def test_bundled_sdks_api_hosts_are_analytics(classifier: Classifier, url: str) -> None:
    assert classifier.url(url) == Match("analytics", BUNDLED_SDK_URLS[url])


@pytest.mark.parametrize(
    ("name", "service"),
    [
        ("ph_phc_AbC123_posthog", "posthog"),
        ("AMP_0123456789", "amplitude"),
        ("AMP_MKTG_0123456789", "amplitude"),
        # Web storage items under the same kind of names (the run-time gate holds their writes).
        ("__mpq_0123456789abcdef_ev", "mixpanel"),
        ("__mpq_0123456789abcdef_pp", "mixpanel"),
        ("__mpq_0123456789abcdef_gr", "mixpanel"),
        ("mp_tab_id_mixpanel_0123456789abcdef", "mixpanel"),
        ("mp_gen_new_tab_id_mixpanel_0123456789abcdef", "mixpanel"),
        ("ph_phc_AbC123_window_id", "posthog"),
        ("ph_phc_AbC123_primary_window_exists", "posthog"),
    ],
)
def test_bundled_sdks_cookies_are_known_whatever_the_key(name: str, service: str) -> None:
    assert CookieRules(Policy.default()).owner(name) == ("analytics", service)


def test_cookies_a_page_script_writes_for_bundled_sdks_are_first_party() -> None:
    """The run-time gate holds a script's writes of first-party names only."""
    services = {s.id: s for s in load_catalogue()}
    for service in ("posthog", "amplitude", "mixpanel", "segment"):
        assert {c.party for c in services[service].cookies} == {"first"}, service


# Cookies a vendor's script writes on the site's own domain, by service: the run-time gate
# holds a page's writes of first-party names only. The generated ones come from the Open Cookie
# Database, whose `Domain` names the vendor's domain for many of them (tools/catalogue/build.py).
FIRST_PARTY = [
    ("google-analytics", "_ga"),
    ("universal-analytics", "_gid"),
    ("meta-pixel", "_fbp"),
    ("amplitude", "AMP_*"),
    ("segment", "ajs_anonymous_id"),
    ("mixpanel", "mp_*_mixpanel"),
    ("hotjar", "_hjSessionUser_*"),
    ("posthog", "ph_*_posthog"),
    ("yandex-metrica", "_ym_visorc_*"),
    ("inspectlet", "__insp_wid"),
    ("gemius", "__gfp_64b"),
    ("bazaarvoice", "BVBRANDID"),
    ("gigya", "gig_bootstrap_*"),
    ("crowd-control", "_cc_id"),
    ("zendesk", "__zlcmid"),
    ("qualaroo", "ki_u"),
]
# Cookies on the vendor's own domain, set by its servers: no script on the site writes them.
THIRD_PARTY = [
    ("google-ads", "IDE"),
    ("google-maps", "NID"),
    ("appnexus", "uuid2"),
    ("pubmatic", "KADUSERCOOKIE"),
    ("index-exchange", "CMID"),
    ("yandex-metrica", "yandexuid"),
    ("gemius", "Gdyn"),
]


@pytest.mark.parametrize(("service", "name"), FIRST_PARTY + THIRD_PARTY)
def test_a_cookies_party_is_where_it_is_set(service: str, name: str) -> None:
    cookies = {c.name: c.party for s in load_catalogue() if s.id == service for c in s.cookies}
    assert cookies[name] == ("first" if (service, name) in FIRST_PARTY else "third")


@pytest.mark.parametrize("url", SHARED_URLS)
def test_the_rest_of_a_shared_platform_is_nobodys(classifier: Classifier, url: str) -> None:
    assert classifier.url(url) is None


def test_hundreds_of_services_and_every_generated_entry_says_where_it_comes_from() -> None:
    extended = extended_catalogue()
    assert len(load_catalogue()) >= 500
    assert all(s.source for s in extended)
    licences = {"MIT", "Apache-2.0", "curated"}
    for service in extended:
        for part in service.source.split("; "):
            origin = part.partition(":")[0]
            assert origin == "curated" or re.search(r"\((.+)\)\Z", origin), service.id
            found = re.search(r"\((.+)\)\Z", origin)
            assert (found.group(1) if found else origin) in licences, service.id


def test_no_shared_platform_is_claimed_as_a_whole_host() -> None:
    for service in load_catalogue():
        for host in service.hosts:
            assert host not in SHARED, (service.id, host)


def test_generated_entries_never_shadow_a_hand_written_one() -> None:
    """A curated host, or its parent or subdomain, is in no generated entry's hosts."""
    extended = extended_catalogue()
    curated = [s for s in load_catalogue() if s not in extended]
    claimed = {h for s in curated for h in s.hosts}
    claimed |= {u.partition("/")[0] for s in curated for u in s.urls if not u.startswith("/")}
    for service in extended:
        for host in service.hosts:
            for other in claimed:
                assert host != other, service.id
                assert not host.endswith("." + other), (service.id, other)
                assert not other.endswith("." + host), (service.id, other)


def test_snippets_of_different_services_never_overlap() -> None:
    """Except a longer one refining a shorter one from the same start (leftmost-longest)."""
    owners: dict[str, str] = {}
    for service in load_catalogue():
        for snippet in service.snippets:
            owners.setdefault(snippet.lower(), service.id)
    for (a, sa), (b, sb) in combinations(owners.items(), 2):
        if sa == sb:
            continue
        shorter, longer = sorted((a, b), key=len)
        if shorter in longer:
            assert longer.startswith(shorter), (sa, a, sb, b)


def test_specific_globs_come_before_general_ones_on_a_shared_host() -> None:
    """Two services' globs on one host never tie: the one whose literal prefix is longer is
    tried first, so a glob that matches another's text must have the shorter prefix."""
    globs: dict[str, list[tuple[str, str]]] = {}
    for service in load_catalogue():
        for url in service.urls:
            host, _, path = url.partition("/")
            globs.setdefault(host, []).append(("/" + path, service.id))
    for host, items in globs.items():
        for (p1, s1), (p2, s2) in combinations(items, 2):
            if s1 == s2:
                continue
            for general, specific in ((p1, p2), (p2, p1)):
                regex = ".*".join(map(re.escape, general.split("*")))
                if re.fullmatch(regex, specific.replace("*", "x")):
                    prefix = len(general.partition("*")[0])
                    assert len(specific.partition("*")[0]) > prefix, (host, general, specific)


def test_generated_cookie_names_are_distinctive_and_unique() -> None:
    """A generic name would make the firewall drop a site's own cookie of that name."""
    extended = extended_catalogue()
    owners: dict[str, set[str]] = {}
    for service in load_catalogue():
        for cookie in service.cookies:
            owners.setdefault(cookie.name, set()).add(service.id)
    for service in extended:
        for cookie in service.cookies:
            assert cookie.name.lower() not in {"id", "uid", "session", "token", "lang"}
            assert owners[cookie.name] == {service.id}, cookie.name


def test_extended_services_stay_off_the_policy_page_and_the_csp_unless_used() -> None:
    extended = extended_catalogue()
    policy = Policy.default()
    assert not set(policy.listed_services) & extended
    chosen = Policy.from_dict({"uses": ["chartbeat", "google-analytics"]})
    assert [s.id for s in chosen.listed_services] == ["chartbeat", "google-analytics"]


def test_licence_notices_ship_in_the_package() -> None:
    notices = PACKAGE / "LICENSES"
    assert "Apache License" in (notices / "Apache-2.0.txt").read_text()
    assert "Patrick Hulce" in (notices / "third-party-web.MIT.txt").read_text()
    assert "AmauriC" in (notices / "tarteaucitron.MIT.txt").read_text()
    credits = (notices / "THIRD_PARTY_DATA.md").read_text()
    assert "Open Cookie Database contributors" in credits


DISQUS_LOADER = b"""<script>
var disqus_config = function () { this.page.url = location.href; };
(function() { var d = document, s = d.createElement('script');
s.src = 'https://acme.disqus.com/embed.js'; s.setAttribute('data-timestamp', +new Date());
(d.head || d.body).appendChild(s); })();
</script>"""
CHARTBEAT_LOADER = b"""<script>
(function() { var _sf_async_config = window._sf_async_config = {uid: 1, domain: 'a.example'};
function loadChartbeat() { var e = document.createElement('script');
e.src = '//static.chartbeat.com/js/chartbeat.js'; document.body.appendChild(e); }
loadChartbeat(); })();
</script>"""
# The site's own code naming social networks and video sites is not a tracker's loader.
OWN_LINKS = b"""<script>
window.social = {reddit: "https://www.reddit.com/r/acme/", music: "https://open.spotify.com/x",
  reviews: "https://www.trustpilot.com/review/acme.example"};
</script>"""


@pytest.mark.parametrize(
    ("html", "service"), [(DISQUS_LOADER, b"disqus"), (CHARTBEAT_LOADER, b"chartbeat")]
)
def test_generated_inline_loaders_are_held(html: bytes, service: bytes) -> None:
    out = _rewrite(html)
    assert b'type="text/plain"' in out
    assert b'data-cg-service="' + service + b'"' in out


def test_inline_code_linking_to_social_sites_runs() -> None:
    assert _rewrite(OWN_LINKS) == OWN_LINKS


def _rewrite(html: bytes) -> bytes:
    policy = Policy.default()
    blocker = Rules(policy).blocking(frozenset(policy.optional_categories))
    assert blocker is not None
    rewriter = HtmlRewriter(blocker, lambda match: b"")
    return rewriter.feed(html) + rewriter.close()


@pytest.mark.parametrize(
    "script",
    [
        b'<script>var s=document.createElement("script");s.src="https://www.redditstatic.com/ads/pixel.js";</script>',
        b'<script>new Image().src = "https://alb.reddit.com/rp.gif?id=1";</script>',
        b'<script>fetch("https://www.reddit.com/api/v2/collect", {method: "POST"});</script>',
    ],
)
def test_inline_code_loading_from_a_generated_services_host_is_held(script: bytes) -> None:
    """Named with a loading word before it, or a script, pixel or endpoint path, a generated
    service's host (one people also link to) holds the script back."""
    out = _rewrite(script)
    assert b'type="text/plain"' in out
    assert b'data-cg-service="reddit"' in out
