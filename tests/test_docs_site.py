"""The documentation site in a real browser: `make docs` built site/, a local HTTP server serves it, and headless Chromium
loads every page. It fails on a severe console message (a script error, a resource that did not load), on an internal
link or image that does not answer 200, on a link to an anchor its page does not have, and when the search does not
find a known function. Marked `browser` (make test-slow; CI builds the site first); skips where Chromium or site/ is missing."""
import functools, http.server, re, threading, time, urllib.error, urllib.parse, urllib.request
from pathlib import Path
import pytest
from conftest import headless_chromium

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT/'site'
KNOWN = ('paired_bootstrap_ci', 'api/calibrate.html')   # a function the search must find, and the page it must link to


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass


@pytest.fixture(scope='module')
def served():
    "site/ on a free port of 127.0.0.1: the base URL."
    if not (SITE/'index.html').exists(): pytest.skip('no built site: run `make docs` first (site/index.html is missing)')
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_Quiet, directory=str(SITE)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{srv.server_address[1]}/'
    srv.shutdown(); srv.server_close()


@pytest.fixture(scope='module')
def browser():
    "Headless Debian Chromium driven by selenium, keeping the console log, or a skip naming what is missing."
    d = headless_chromium(900, console_log=True)
    yield d
    d.quit()


def _status(url) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method='HEAD'), timeout=30) as r: return r.status
    except urllib.error.HTTPError as e: return e.code


PAGE_JS = """return [location.href,
  Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  Array.from(document.images).map(i => i.currentSrc || i.src),
  Array.from(document.querySelectorAll('[id]')).map(e => e.id),
  document.querySelector('article') ? document.querySelector('article').innerText.length : 0]"""


@pytest.mark.browser
def test_every_page_loads_without_errors_and_every_link_resolves(served, browser):
    pages = sorted(str(p.relative_to(SITE)) for p in SITE.rglob('*.html'))
    assert len(pages) > 60 and 'index.html' in pages and 'gallery.html' in pages, len(pages)
    errors, empty, links, ids = [], [], {}, {}
    for rel in pages:
        browser.get(served + rel)
        for _ in range(50):
            if browser.execute_script('return document.readyState') == 'complete': break
            time.sleep(0.1)
        href, anchors, images, page_ids, text = browser.execute_script(PAGE_JS)
        errors += [f"{rel}: {e['message']}" for e in browser.get_log('browser') if e['level'] == 'SEVERE']
        if text < 40 and rel != '404.html': empty.append(rel)
        ids[urllib.parse.urldefrag(href)[0]] = set(page_ids)
        for u in anchors + images:
            if u.startswith(served): links.setdefault(u, rel)
    assert not errors, errors[:20]
    assert not empty, f'pages with no content: {empty}'
    broken = [f'{rel} -> {u} ({s})' for u, rel in links.items() if (s := _status(urllib.parse.urldefrag(u)[0])) != 200]
    assert not broken, broken[:20]
    missing = [f'{rel} -> {u}' for u, rel in links.items() if (d := urllib.parse.urldefrag(u))[1] and d[0] in ids
               and urllib.parse.unquote(d[1]) not in ids[d[0]]]
    assert not missing, f'links to anchors their page does not have: {missing[:20]}'
    print(f'{len(pages)} pages, {len(links)} internal links and images checked')


@pytest.mark.browser
def test_search_finds_a_known_function(served, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    name, page = KNOWN
    browser.get(served + 'index.html')
    box = WebDriverWait(browser, 20).until(lambda d: d.find_element(By.CSS_SELECTOR, 'input.md-search__input'))
    box.click(); box.send_keys(name)
    hits = WebDriverWait(browser, 30).until(lambda d: [a.get_attribute('href') for a in d.find_elements(By.CSS_SELECTOR, '.md-search-result__item a')
                                                       if a.get_attribute('href')] or None)
    assert any(page in h and name in h for h in hits), hits[:10]
    target = next(h for h in hits if page in h and name in h)
    browser.get(target)
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.ID, f'visionlab.calibrate.{name}'))
    assert not [e for e in browser.get_log('browser') if e['level'] == 'SEVERE']
