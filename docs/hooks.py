"""mkdocs hooks of the documentation site (mkdocs.yml; docs/make_docs.py passes this file as `hooks`)."""
import html, re

# mkdocs-jupyter's page template always adds MathJax (from a CDN) and its configuration; the notebooks' TeX is
# converted to MathML when the site is assembled, so nothing is fetched and no script fails offline.
_MATHJAX = re.compile(r'<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->', re.S)
_HEADING = re.compile(r'<h([1-6])\b[^>]*\bid="([^"]+)"[^>]*>(.*?)</h\1>', re.S)
_TAG, _CODE = re.compile(r'<[^>]+>'), re.compile(r'<code>.*?</code>', re.S)


def _walk(items):
    for it in items:
        yield it
        yield from _walk(it.children)


def _text(s): return ' '.join(html.unescape(_TAG.sub('', s)).replace('¶', '').split())


def on_page_content(content, page, config, files):
    content = _MATHJAX.sub('', content)
    if page.file.src_uri.endswith('.ipynb') and page.toc:
        # mkdocs-jupyter makes a notebook's table of contents from its markdown with the code spans dropped, so an entry
        # of "## Focal loss (`focal`)" reads "Focal loss ()" and links to #focal-loss, while the heading's id is
        # focal-loss-focal. Match the entries to the rendered headings in order and take their id and text.
        heads, k = [(h[2], _text(h[3]), _text(_CODE.sub('', h[3]))) for h in _HEADING.finditer(content)], 0
        for item in _walk(page.toc.items):
            want = ' '.join(item.title.split())
            for j in range(k, len(heads)):
                if heads[j][2] == want or heads[j][1] == want:
                    item.id, item.title, k = heads[j][0], heads[j][1], j + 1
                    break
    return content
