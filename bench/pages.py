"""Deterministic, realistic "messy" HTML pages for the benchmark, generated at run time.

A gate is only as fast as it is on the pages sites really serve: a news or shop page with dozens of
first-party and CDN scripts, inline JSON, a handful of trackers pasted from vendor docs, many
images with srcset, video and map embeds, uppercase tags, unquoted attributes, comments and the odd
`</body>` inside a script string. Nothing large is stored in git: every page comes from a seeded
generator, so two runs (and the uvicorn subprocesses) see identical bytes.

Every element the builders write is counted as it is written (`Shape`), including how many of them
consent_gate must hold back when every optional category is refused; the benchmark checks the
rewriter's output against that count so it can never be timing a no-op.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields

__all__ = [
    "LONG_SIZE",
    "MESSY_SIZE",
    "Page",
    "Shape",
    "StreamSource",
    "long_page",
    "messy_page",
]

MESSY_SIZE = 100_000
LONG_SIZE = 2_000_000


@dataclass(frozen=True)
class Shape:
    """What a page contains, counted while it was written (elements inside comments excluded)."""

    scripts: int = 0
    images: int = 0
    iframes: int = 0
    trackers: int = 0  # elements to hold back when all optional categories are refused
    tracker_scripts: int = 0
    tracker_images: int = 0
    tracker_iframes: int = 0
    in_noscript: int = 0  # trackers inside <noscript> (python-lolhtml sees no tags there)

    def __add__(self, other: Shape) -> Shape:
        return Shape(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True)
class Page:
    html: bytes
    shape: Shape


class _Writer:
    """Collects markup and counts what it contains, so the shape can never drift from the bytes."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.parts: list[str] = []
        self.shape = Shape()

    def add(self, markup: str, **counts: int) -> None:
        self.parts.append(markup)
        if counts:
            self.shape = self.shape + Shape(**counts)

    def script(self, markup: str, *, tracker: bool = False, noscript: bool = False) -> None:
        self.add(markup, scripts=1, **_tracked("scripts", tracker, noscript))

    def image(self, markup: str, *, tracker: bool = False, noscript: bool = False) -> None:
        self.add(markup, images=1, **_tracked("images", tracker, noscript))

    def iframe(self, markup: str, *, tracker: bool = False, noscript: bool = False) -> None:
        self.add(markup, iframes=1, **_tracked("iframes", tracker, noscript))

    def text(self) -> str:
        return "".join(self.parts)

    def size(self) -> int:
        return sum(len(p.encode()) for p in self.parts)


def _tracked(kind: str, tracker: bool, noscript: bool) -> dict[str, int]:
    if not tracker:
        return {}
    counts = {"trackers": 1, f"tracker_{kind}": 1}
    if noscript:
        counts["in_noscript"] = 1
    return counts


# --- words -------------------------------------------------------------------------------------

_TEXT = (
    "the council said on tuesday that its new budget would fund more buses and trains across "
    "region while critics warned about rising costs for families small businesses and schools "
    "analysts expect prices to ease later this year although energy markets remain volatile "
    "shoppers can compare deals on laptops phones headphones and kitchen appliances before "
    "weekend sale ends customers who ordered before noon receive free delivery returns within "
    "thirty days café naïve résumé über €19.99 — “quoted” city hall museum festival weather"
)
_WORDS = _TEXT.split()


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(_WORDS) for _ in range(words))
    return text[:1].upper() + text[1:] + "."


def _paragraph(rng: random.Random, size: int) -> str:
    sentences: list[str] = []
    while sum(len(s) + 1 for s in sentences) < size:
        sentences.append(_sentence(rng, rng.randint(8, 22)))
    return "<p>" + " ".join(sentences) + "</p>\n"


def _hash(rng: random.Random, n: int = 8) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


# --- the page chrome: head, header, footer and the scripts at the end of body --------------------


def _head(w: _Writer) -> None:
    rng = w.rng
    w.add(
        "<!DOCTYPE html>\n<html lang=en class=no-js>\n<HEAD>\n<meta charset=utf-8>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>Daily Courier — News, deals &amp; weather</title>\n"
        "<meta name=description content='Breaking news, reviews and weekend deals'>\n"
        '<meta property="og:title" content="Daily Courier">\n'
        '<meta property="og:image" content="https://cdn.dailycourier.example/og/cover.jpg">\n'
        '<meta name="twitter:card" content="summary_large_image">\n'
        '<link rel="canonical" href="https://www.dailycourier.example/">\n'
        '<link rel="icon" href="/favicon.ico" sizes="any">\n'
        '<link rel="manifest" href="/site.webmanifest">\n'
        '<link rel=preconnect href="https://fonts.gstatic.com" crossorigin>\n'
    )
    w.add(
        '<link rel="preconnect" href="https://www.googletagmanager.com">\n',
        trackers=1,
    )
    w.add("<link rel=dns-prefetch href=//connect.facebook.net>\n", trackers=1)
    for name in ("main", "article", "print"):
        w.add(f'<link rel="stylesheet" href="/static/css/{name}.{_hash(rng)}.css">\n')
    w.add(
        '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/bootstrap@5.3.3/dist/'
        'css/bootstrap.min.css">\n'
        '<link rel="preload" href="/static/fonts/inter.woff2" as="font" crossorigin>\n'
    )
    w.add("<style>\n" + _css(rng, 3000) + "</style>\n")
    w.add("<!--[if lt IE 9]><script src=/static/js/html5shiv.js></script><![endif]-->\n")
    w.script(
        "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
        "gtag('consent','default',{ad_storage:'denied',analytics_storage:'denied'});</script>\n"
    )
    w.add("<!-- Google tag (gtag.js) -->\n")
    w.script(
        '<script async src="https://www.googletagmanager.com/gtag/js?id=G-X4Q2LZ7K1P"></script>\n',
        tracker=True,
    )
    w.script(
        "<script>\n  window.dataLayer = window.dataLayer || [];\n"
        "  function gtag(){dataLayer.push(arguments);}\n  gtag('js', new Date());\n"
        "  gtag('config', 'G-X4Q2LZ7K1P', {send_page_view: true});\n</script>\n",
        tracker=True,
    )
    w.add("<!-- Google Tag Manager -->\n")
    w.script(
        "<script>(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':\n"
        "new Date().getTime(),event:'gtm.js'});var f=d.getElementsByTagName(s)[0],\n"
        "j=d.createElement(s),dl=l!='dataLayer'?'&l='+l:'';j.async=true;j.src=\n"
        "'https://www.googletagmanager.com/gtm.js?id='+i+dl;f.parentNode.insertBefore(j,f);\n"
        "})(window,document,'script','dataLayer','GTM-K7PQ3M2');</script>\n",
        tracker=True,
    )
    w.add("<!-- End Google Tag Manager -->\n")
    w.script('<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>\n')
    w.script(
        '<script src="https://cdn.jsdelivr.net/npm/bootstrap@5.3.3/dist/js/'
        'bootstrap.bundle.min.js" defer></script>\n'
    )
    for name in ("runtime", "vendor", "polyfills", "main", "i18n", "router"):
        kind = "type=module" if name in ("main", "router") else "defer"
        w.script(f"<script {kind} src=/static/js/{name}.{_hash(rng)}.js></script>\n")
    w.script(
        '<script type="application/ld+json">{"@context":"https://schema.org","@type":'
        '"NewsMediaOrganization","name":"Daily Courier","url":"https://www.dailycourier.example/",'
        '"logo":"https://cdn.dailycourier.example/logo.png","sameAs":["https://www.facebook.com/'
        'dailycourier","https://twitter.com/dailycourier"]}</script>\n'
    )
    w.script(
        "<script>window.__CONFIG__={api:'/api/v2',locale:'en-GB',currency:'EUR',"
        f"build:'{_hash(rng, 12)}',features:{{liveblog:true,paywall:false}}}};</script>\n"
    )
    # The site owner's own mark: an A/B-testing script declared as analytics.
    w.script(
        "<script data-consent=analytics src=/static/js/ab-test.js defer></script>\n",
        tracker=True,
    )
    w.add("</HEAD>\n")


def _css(rng: random.Random, size: int) -> str:
    rules: list[str] = []
    while sum(map(len, rules)) < size:
        name = f".c-{_hash(rng, 4)}"
        rules.append(
            f"{name}{{margin:{rng.randint(0, 24)}px;color:#{_hash(rng, 6)};"
            f"background:url(/static/img/bg-{rng.randint(1, 9)}.png) no-repeat}}\n"
        )
    return "".join(rules)


def _header(w: _Writer) -> None:
    rng = w.rng
    w.add('<BODY class="home page-template" data-section=front>\n')
    w.add("<!-- Google Tag Manager (noscript) -->\n")
    w.add("<noscript>")
    w.iframe(
        '<iframe src="https://www.googletagmanager.com/ns.html?id=GTM-K7PQ3M2"\n'
        'height="0" width="0" style="display:none;visibility:hidden"></iframe>',
        tracker=True,
        noscript=True,
    )
    w.add("</noscript>\n<!-- End Google Tag Manager (noscript) -->\n")
    w.add('<header class="site-header"><a href="/" class=logo>')
    w.image('<IMG SRC=/static/img/logo.svg ALT="Daily Courier" WIDTH=180 HEIGHT=40>')
    w.add("</a>\n<nav aria-label=Main><ul>\n")
    for _ in range(40):
        word = rng.choice(_WORDS)
        w.add(f'<li><a href="/section/{word}-{rng.randint(1, 99)}">{word.title()}</a></li>\n')
    w.add("</ul></nav>\n")
    w.add(
        '<form class=search action="/search"><input type=search name=q placeholder="Search…">'
        "<button>Go</button></form>\n</header>\n"
    )
    w.add('<div id="div-gpt-ad-top" class=ad-slot>')
    w.script(
        "<script>googletag.cmd.push(function(){googletag.display('div-gpt-ad-top');});</script>",
        tracker=True,
    )
    w.add("</div>\n")


def _footer(w: _Writer) -> None:
    """Footer and the scripts sites paste at the end of body: trackers among first-party code."""
    rng = w.rng
    w.add('<footer class="site-footer">\n')
    w.add(
        '<form method=post action="/comments"><textarea name=comment rows=4>'
        "Write <b>nicely</b> &amp; stay on topic</textarea><button>Send</button></form>\n"
    )
    w.add("<p>&copy; 2024 Daily Courier Media. All rights reserved.</p>\n</footer>\n")
    w.add('<!-- <script src="https://www.google-analytics.com/analytics.js"></script> -->\n')
    w.script(
        "<script async src=https://securepubads.g.doubleclick.net/tag/js/gpt.js></script>\n",
        tracker=True,
    )
    w.add("<!-- Meta Pixel Code -->\n")
    w.script(
        "<script>\n!function(f,b,e,v,n,t,s)\n{if(f.fbq)return;n=f.fbq=function(){n.callMethod?\n"
        "n.callMethod.apply(n,arguments):n.queue.push(arguments)};\n"
        "if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';\n"
        "n.queue=[];t=b.createElement(e);t.async=!0;\nt.src=v;s=b.getElementsByTagName(e)[0];\n"
        "s.parentNode.insertBefore(t,s)}(window, document,'script',\n"
        "'https://connect.facebook.net/en_US/fbevents.js');\n"
        "fbq('init', '1234567890');\nfbq('track', 'PageView');\n</script>\n",
        tracker=True,
    )
    w.add("<noscript>")
    w.image(
        '<img height="1" width="1" style="display:none"\n'
        'src="https://www.facebook.com/tr?id=1234567890&ev=PageView&noscript=1"\n/>',
        tracker=True,
        noscript=True,
    )
    w.add("</noscript>\n<!-- End Meta Pixel Code -->\n")
    w.add("<!-- Hotjar Tracking Code -->\n")
    w.script(
        "<script>\n    (function(h,o,t,j,a,r){\n"
        "        h.hj=h.hj||function(){(h.hj.q=h.hj.q||[]).push(arguments)};\n"
        "        h._hjSettings={hjid:1234567,hjsv:6};\n"
        "        a=o.getElementsByTagName('head')[0];\n"
        "        r=o.createElement('script');r.async=1;\n"
        "        r.src=t+h._hjSettings.hjid+j+h._hjSettings.hjsv;\n        a.appendChild(r);\n"
        "    })(window,document,'https://static.hotjar.com/c/hotjar-','.js?sv=');\n</script>\n",
        tracker=True,
    )
    w.script(
        '<script type="text/javascript">\n_linkedin_partner_id = "1234567";\n'
        "window._linkedin_data_partner_ids = window._linkedin_data_partner_ids || [];\n"
        "window._linkedin_data_partner_ids.push(_linkedin_partner_id);\n</script>",
        tracker=True,
    )
    w.script(
        '<script type="text/javascript">\n(function(l) {\nif (!l){window.lintrk = function(a,b)'
        "{window.lintrk.q.push([a,b])};\nwindow.lintrk.q=[]}\n"
        'var s = document.getElementsByTagName("script")[0];\n'
        'var b = document.createElement("script");\nb.type = "text/javascript";b.async = true;\n'
        'b.src = "https://snap.licdn.com/li.lms-analytics/insight.min.js";\n'
        "s.parentNode.insertBefore(b, s);})(window.lintrk);\n</script>\n",
        tracker=True,
    )
    w.add("<noscript>\n")
    w.image(
        '<img height="1" width="1" style="display:none;" alt="" '
        'src="https://px.ads.linkedin.com/collect/?pid=1234567&fmt=gif" />',
        tracker=True,
        noscript=True,
    )
    w.add("\n</noscript>\n")
    w.script('<script src="https://www.youtube.com/iframe_api"></script>\n', tracker=True)
    w.script('<script src="https://player.vimeo.com/api/player.js"></script>\n', tracker=True)
    w.script(
        '<script async src="https://maps.googleapis.com/maps/api/js?key=AIzaSyD-demo&amp;'
        'callback=initMap"></script>\n',
        tracker=True,
    )
    w.script(
        '<SCRIPT>var thanks = "<p>Thanks for reading!</p></body>";'
        "document.addEventListener('DOMContentLoaded',function(){window.__done=thanks;});"
        "</SCRIPT>\n"
    )
    for _ in range(9):
        w.script(f"<script defer src=/static/js/chunk-{_hash(rng)}.js></script>\n")
    w.script(
        '<script src="https://cdnjs.cloudflare.com/ajax/libs/lazysizes/5.3.2/lazysizes.min.js"'
        " async></script>\n"
    )
    w.script('<script src="https://unpkg.com/htmx.org@1.9.10" defer></script>\n')
    w.add("</BODY>\n</html>\n")


# --- a story: the article body, repeated for long pages ------------------------------------------


def _story(w: _Writer, body_text: int) -> None:
    """One article with its images, embeds, ad slots and inline data; `body_text` bytes of prose."""
    rng = w.rng
    blocks = _story_blocks(rng)
    rng.shuffle(blocks)
    per_block = max(0, body_text // len(blocks))
    w.add(f'<main id=content><article class="story" data-id={rng.randint(10**5, 10**6)}>\n')
    w.add(f"<h1>{_sentence(rng, 9)}</h1>\n")
    for block in blocks:
        block(w)
        if per_block:
            w.add(_paragraph(rng, per_block))
    w.add("</article></main>\n<!-- /#content -->\n")


def _story_blocks(rng: random.Random) -> list[Callable[[_Writer], None]]:
    """The story's elements as small writers, shuffled in among the paragraphs."""
    blocks: list[Callable[[_Writer], None]] = []
    blocks += [_card] * 55 + [_picture] * 6 + [_avatar] * 12 + [_lazy_image] * 3
    blocks += [_pixel_ga, _pixel_bing, _pixel_pinterest, _youtube_thumb, _youtube_thumb]
    blocks += [_maps_static]
    blocks += [_youtube, _youtube_upper, _youtube_nocookie, _vimeo, _vimeo_dnt]
    blocks += [_maps_embed, _maps_legacy, _ad_frame, _ad_frame]
    blocks += [_plain_iframe] * 10
    blocks += [_ad_slot, _ad_slot, _json_data, _json_ld, _inline_widget]
    blocks += [_first_party_script] * 24
    blocks += [_svg_icon] * 4 + [_video] * 2
    return blocks


def _img_attrs(rng: random.Random) -> str:
    n = rng.randint(1, 999)
    base = f"https://cdn.dailycourier.example/img/{n:03d}"
    return (
        f'src="{base}-640.jpg" srcset="{base}-320.jpg 320w, {base}-640.jpg 640w, '
        f'{base}-1280.jpg 1280w" sizes="(max-width: 600px) 100vw, 640px"'
    )


def _card(w: _Writer) -> None:
    rng = w.rng
    slug = "-".join(rng.choice(_WORDS) for _ in range(4))
    w.add(f'<div class="card c-{_hash(rng, 4)}"><a href="/news/{slug}">')
    if rng.random() < 0.3:
        w.image(f"<IMG SRC=/media/{slug}.webp ALT=Photo WIDTH=320 HEIGHT=180 loading=lazy>")
    else:
        w.image(f'<img {_img_attrs(rng)} alt="{slug}" width=640 height=360 loading="lazy">')
    w.add(f"</a><h3>{_sentence(rng, 6)}</h3></div>\n")


def _picture(w: _Writer) -> None:
    n = w.rng.randint(1, 999)
    w.add(
        f'<picture><source srcset="/media/hero-{n}.avif" type="image/avif">'
        f"<source srcset='/media/hero-{n}.webp' type='image/webp'>"
    )
    w.image(f'<img src="/media/hero-{n}.jpg" alt="" width="1200" height="675"></picture>\n')


def _avatar(w: _Writer) -> None:
    n = w.rng.randint(1, 99)
    w.image(f"<img class=avatar src=/static/img/authors/{n}.png alt=Author width=48 height=48 />")
    w.add("\n")


def _lazy_image(w: _Writer) -> None:
    n = w.rng.randint(1, 999)
    w.image(
        f'<img class="lazyload" data-src="/media/lazy-{n}.jpg" src="data:image/gif;base64,'
        'R0lGODlhAQABAAAAACw=" alt="">\n'
    )


def _pixel_ga(w: _Writer) -> None:
    w.image(
        '<img src="https://www.google-analytics.com/collect?v=1&amp;tid=UA-1234-1&amp;t=pageview'
        '&amp;cid=555" width=1 height=1 alt="">\n',
        tracker=True,
    )


def _pixel_bing(w: _Writer) -> None:
    w.image(
        "<IMG SRC=https://bat.bing.com/action/0?ti=5012345&Ver=2 HEIGHT=0 WIDTH=0>\n", tracker=True
    )


def _pixel_pinterest(w: _Writer) -> None:
    w.image(
        "<img height='1' width='1' style='display:none;' alt='' "
        "src='https://ct.pinterest.com/v3/?event=init&tid=2612345678901&noscript=1' />\n",
        tracker=True,
    )


def _youtube_thumb(w: _Writer) -> None:
    vid = _hash(w.rng, 11)
    w.add(f'<a href="https://www.youtube.com/watch?v={vid}">')
    w.image(f'<img src="https://i.ytimg.com/vi/{vid}/hqdefault.jpg" alt="Video">', tracker=True)
    w.add("</a>\n")


def _maps_static(w: _Writer) -> None:
    w.image(
        '<img src="https://maps.googleapis.com/maps/api/staticmap?center=Trafalgar+Square'
        '&zoom=15&size=600x300&key=AIzaSyD-demo" alt="Map of our office">\n',
        tracker=True,
    )


def _youtube(w: _Writer) -> None:
    vid = _hash(w.rng, 11)
    w.iframe(
        f'<iframe width="560" height="315" src="https://www.youtube.com/embed/{vid}?si=AbCdEf" '
        'title="YouTube video player" frameborder="0" allow="accelerometer; autoplay; '
        'clipboard-write; encrypted-media; gyroscope; picture-in-picture; web-share" '
        'referrerpolicy="strict-origin-when-cross-origin" allowfullscreen></iframe>\n',
        tracker=True,
    )


def _youtube_upper(w: _Writer) -> None:
    vid = _hash(w.rng, 11)
    w.iframe(
        f"<IFRAME WIDTH=640 HEIGHT=360 SRC=https://www.youtube.com/embed/{vid} "
        "FRAMEBORDER=0 ALLOWFULLSCREEN></IFRAME>\n",
        tracker=True,
    )


def _youtube_nocookie(w: _Writer) -> None:
    vid = _hash(w.rng, 11)
    w.iframe(
        f'<iframe width="560" height="315" src="https://www.youtube-nocookie.com/embed/{vid}" '
        'title="YouTube video player" allowfullscreen></iframe>\n',
        tracker=True,
    )


def _vimeo(w: _Writer) -> None:
    w.add('<div style="padding:56.25% 0 0 0;position:relative;">')
    w.iframe(
        '<iframe src="https://player.vimeo.com/video/76979871?badge=0&amp;autopause=0&amp;'
        'player_id=0&amp;app_id=58479" frameborder="0" allow="autoplay; fullscreen; '
        'picture-in-picture" style="position:absolute;top:0;left:0;width:100%;height:100%;" '
        'title="Showreel"></iframe>',
        tracker=True,
    )
    w.add("</div>\n")


def _vimeo_dnt(w: _Writer) -> None:
    w.iframe(
        "<iframe src='https://player.vimeo.com/video/76979871?dnt=1' width=640 height=360 "
        "frameborder=0 allowfullscreen></iframe>\n",
        tracker=True,
    )


def _maps_embed(w: _Writer) -> None:
    w.iframe(
        '<iframe src="https://www.google.com/maps/embed?pb=!1m18!1m12!1m3!1d2483.0!2d-0.1281!3d51.5'
        '!2m3!1f0!2f0!3f0!3m2!1i1024!2i768!4f13.1" width="600" height="450" style="border:0;" '
        'allowfullscreen="" loading="lazy" referrerpolicy="no-referrer-when-downgrade"></iframe>\n',
        tracker=True,
    )


def _maps_legacy(w: _Writer) -> None:
    w.iframe(
        '<iframe width="425" height="350" frameborder="0" scrolling="no" '
        'src="https://maps.google.com/maps?q=Trafalgar+Square,+London&amp;output=embed">'
        "</iframe>\n",
        tracker=True,
    )


def _ad_frame(w: _Writer) -> None:
    n = w.rng.randint(1, 99)
    w.iframe(
        f'<iframe id="google_ads_iframe_{n}" src="https://tpc.googlesyndication.com/safeframe/'
        f'1-0-40/html/container.html#n={n}" width="300" height="250" scrolling="no" '
        'frameborder="0" aria-label="Advertisement"></iframe>\n',
        tracker=True,
    )


_PLAIN_FRAMES = (
    "/widgets/newsletter?src=story",
    "https://js.stripe.com/v3/m-outer-93afeeb17bc37e711759584dbfc50d47.html",
    "https://platform.twitter.com/embed/Tweet.html?id=1234567890",
    "https://open.spotify.com/embed/episode/4rOoJ6Egrf8K2IrywzwOMk",
    "https://www.instagram.com/p/C1a2b3c4d5e/embed",
    "https://codepen.io/team/codepen/embed/PNaGbb?default-tab=result",
    "/live/scoreboard.html",
    "https://widgets.weather.example/forecast?city=London",
)


# Of those, the embeds whose services the built-in catalogue lists: held like a tracker's.
_CATALOGUED_FRAMES = frozenset(
    {
        "https://platform.twitter.com/embed/Tweet.html?id=1234567890",
        "https://open.spotify.com/embed/episode/4rOoJ6Egrf8K2IrywzwOMk",
    }
)


def _plain_iframe(w: _Writer) -> None:
    src = w.rng.choice(_PLAIN_FRAMES)
    w.iframe(
        f'<iframe src="{src}" width="100%" height="300" loading=lazy></iframe>\n',
        tracker=src in _CATALOGUED_FRAMES,
    )


def _ad_slot(w: _Writer) -> None:
    slot = f"div-gpt-ad-{_hash(w.rng, 6)}"
    w.add(f"<div id='{slot}' style='min-height:250px;'>")
    w.script(
        f"<script>\n  googletag.cmd.push(function() {{ googletag.display('{slot}'); }});\n"
        "</script>",
        tracker=True,
    )
    w.add("</div>\n")


def _json_data(w: _Writer) -> None:
    rng = w.rng
    items = ",".join(
        f'{{"id":{rng.randint(1, 10**6)},"title":"{_sentence(rng, 5)}","price":'
        f"{rng.randint(1, 500)}.99}}"
        for _ in range(8)
    )
    w.script(f'<script type="application/json" id="__DATA__">{{"items":[{items}]}}</script>\n')


def _json_ld(w: _Writer) -> None:
    w.script(
        '<script type="application/ld+json">{"@context":"https://schema.org","@type":'
        f'"NewsArticle","headline":"{_sentence(w.rng, 8)}","image":["https://cdn.'
        'dailycourier.example/img/001-1280.jpg"],"datePublished":"2024-05-01T08:00:00+01:00"}'
        "</script>\n"
    )


def _inline_widget(w: _Writer) -> None:
    w.script(
        "<script>\n(function(){var el=document.getElementById('live');if(!el)return;\n"
        "fetch('/api/v2/live?since='+Date.now()).then(function(r){return r.json()})"
        ".then(function(d){el.innerHTML=d.html;});})();\n</script>\n"
    )


def _first_party_script(w: _Writer) -> None:
    rng = w.rng
    name = rng.choice(("gallery", "comments", "paywall", "share", "liveblog", "poll", "video"))
    if rng.random() < 0.5:
        w.script(f"<script defer src=/static/js/{name}.{_hash(rng)}.js></script>\n")
    else:
        w.script(f'<script type="module" src="/static/js/{name}-{_hash(rng)}.mjs"></script>\n')


def _svg_icon(w: _Writer) -> None:
    icon = w.rng.choice(("share", "search", "menu", "close"))
    w.add(f'<svg class="icon" aria-hidden="true"><use xlink:href="#icon-{icon}"></use></svg>\n')


def _video(w: _Writer) -> None:
    n = w.rng.randint(1, 99)
    w.add(
        f'<video controls preload=none poster="/media/clip-{n}.jpg">'
        f'<source src="/media/clip-{n}.mp4" type="video/mp4"></video>\n'
    )


# --- pages ---------------------------------------------------------------------------------------


def _chrome_size(seed: int) -> int:
    """Bytes of everything but the stories, so the prose can be sized to hit a target."""
    w = _Writer(random.Random(seed))
    _head(w)
    _header(w)
    _footer(w)
    return w.size()


def _story_size(seed: int) -> int:
    w = _Writer(random.Random(seed))
    _story(w, 0)
    return w.size()


def _messy(seed: int, prose: int) -> _Writer:
    w = _Writer(random.Random(seed))
    _head(w)
    _header(w)
    _story(w, prose)
    _footer(w)
    return w


def messy_page(size: int = MESSY_SIZE, seed: int = 1) -> Page:
    """One ~`size`-byte news page: the chrome and one story, its prose sized to hit the target."""
    prose = max(0, size - _chrome_size(seed) - _story_size(seed))
    w = _messy(seed, prose)
    # Paragraphs end on whole sentences and overshoot a little: correct once, deterministically.
    w = _messy(seed, max(0, prose - (w.size() - size)))
    return Page(w.text().encode(), w.shape)


def long_page(size: int = LONG_SIZE, seed: int = 2) -> Page:
    """A ~`size`-byte page: an endless-scroll front page of ~50 KB stories under one chrome."""
    w = _Writer(random.Random(seed))
    _head(w)
    _header(w)
    target = size - _chrome_size(seed)
    while w.size() < target:
        _story(w, MESSY_SIZE // 2)
    _footer(w)
    return Page(w.text().encode(), w.shape)


class StreamSource:
    """Pages of any size made lazily from a pool of stories, so no whole page is ever held.

    The pool is generated up front; `chunks()` only slices, so memory measured while streaming
    is the consumer's, not the source's.
    """

    def __init__(self, seed: int = 3, pool: int = 8) -> None:
        w = _Writer(random.Random(seed))
        _head(w)
        _header(w)
        self._head = (w.text().encode(), w.shape)
        self._stories: list[tuple[bytes, Shape]] = []
        for _ in range(pool):
            story = _Writer(w.rng)
            _story(story, MESSY_SIZE // 2)
            self._stories.append((story.text().encode(), story.shape))
        tail = _Writer(random.Random(seed))
        _footer(tail)
        self._tail = (tail.text().encode(), tail.shape)

    def parts(self, size: int) -> Iterator[tuple[bytes, Shape]]:
        """Head, stories in turn until `size` is reached, then the footer (whole parts)."""
        yield self._head
        sent = len(self._head[0])
        index = 0
        while sent + len(self._tail[0]) < size:
            story = self._stories[index % len(self._stories)]
            yield story
            sent += len(story[0])
            index += 1
        yield self._tail

    def shape(self, size: int) -> Shape:
        """What the `size`-byte page contains, as `chunks(size, ...)` will send it."""
        total = Shape()
        for _, shape in self.parts(size):
            total = total + shape
        return total

    def chunks(self, size: int, chunk: int) -> Iterator[bytes]:
        """About `size` bytes of page in pieces of exactly `chunk` bytes (the last may be short)."""
        pending = b""
        for part, _ in self.parts(size):
            pending += part
            while len(pending) >= chunk:
                yield pending[:chunk]
                pending = pending[chunk:]
        if pending:
            yield pending
