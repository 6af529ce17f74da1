"""Build README.md and the documentation site from the notebooks, offline.

    python docs/make_docs.py readme      # execute nbs/index.ipynb, write README.md (`make readme`)
    python docs/make_docs.py site        # README.md, then the site in site/ (`make docs`)

README.md is the markdown of nbs/index.ipynb after executing it (its "results at a glance" cell reads paper/*/tables/*.csv),
the way nbdev's `readme_nb` would make it without Quarto. The site (mkdocs-material + mkdocs-jupyter + mkdocstrings) is
assembled in build/docs/ with the repository's own layout, so that a relative link means the same file on the site as
in the repository: index.md (= README.md), docs/*.md (the guide), nbs/*.ipynb (every library notebook, executed as
`nbdev_test` executes it, outputs kept), nbs/tasks/*.ipynb (the papermill templates, not executed), paper/ and params/
(copied), plus two generated sections: api/ (one page per module of lib/visionlab, from its docstrings) and gallery.md
(every figure of paper/ with what it shows)."""
import argparse, hashlib, html, json, os, re, shutil, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS, LIB, PAPER, DOCS = ROOT/'nbs', ROOT/'lib'/'visionlab', ROOT/'paper', ROOT/'docs'
BUILD, SITE = ROOT/'build'/'docs', ROOT/'site'
CACHE = ROOT/'build'/'docs-cache'   # executed library notebooks, keyed by the hash of what they depend on
README_MAX = 10_000                 # bytes
GENERATED = '<!-- Generated from nbs/index.ipynb by `make readme` (docs/make_docs.py): edit the notebook, not this file. -->\n'
DIRECTIVE = re.compile(r'^\s*#\s*\|\s*(.*?)\s*$')


def directives(source:str) -> tuple:
    "nbdev's `#| name[: value]` lines at the top of a code cell -> ({name: value}, the source without them)."
    lines, found, n = source.splitlines(), {}, 0
    while n < len(lines) and (m := DIRECTIVE.match(lines[n])):
        name, value = (re.split(r'[:\s]', m[1], maxsplit=1) + [''])[:2]; found[name] = value.strip(); n += 1
    return found, '\n'.join(lines[n:])


# ---------------------------------------------------------------------------------------------------- README.md
def notebook_markdown(nb) -> str:
    """Markdown of an executed notebook, as nbdev renders a README: markdown cells as they are, code cells without their
    `#|` lines (`#| hide`: left out; `#| echo: false`: only the outputs), markdown outputs as markdown, text in fences."""
    parts = []
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown': parts.append(src.strip()); continue
        if c['cell_type'] != 'code': continue
        d, code = directives(src)
        if 'hide' in d: continue
        if d.get('echo') != 'false' and code.strip(): parts.append(f'```python\n{code.strip()}\n```')
        for o in c.get('outputs', []):
            if o['output_type'] == 'error': raise RuntimeError(f"{o['ename']}: {o['evalue']}")
            data = o.get('data', {})
            if 'text/markdown' in data: parts.append(''.join(data['text/markdown']).strip())
            elif o['output_type'] == 'stream' or 'text/plain' in data:
                text = ''.join(o.get('text', data.get('text/plain', ''))).rstrip()
                if text: parts.append(f'```\n{text}\n```')
    return '\n\n'.join(p for p in parts if p) + '\n'


def execute_notebook(path, cwd, timeout=600):
    "Read the notebook at `path` and execute it in a fresh kernel of this Python with `cwd` as its folder (nbclient)."
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name='python3', resources={'metadata': {'path': str(cwd)}}).execute()
    return nb


def readme_text() -> str:
    "README.md as nbs/index.ipynb makes it from the committed paper/ CSVs."
    return GENERATED + notebook_markdown(execute_notebook(NBS/'index.ipynb', NBS))


def write_readme() -> Path:
    text = readme_text()
    size = len(text.encode())
    if size > README_MAX: raise SystemExit(f'README.md would be {size} bytes, more than {README_MAX}: shorten nbs/index.ipynb')
    (ROOT/'README.md').write_text(text)
    print(f'README.md: {size} bytes, from nbs/index.ipynb')
    return ROOT/'README.md'


# ---------------------------------------------------------------------------------------------------- library notebooks
def library_notebooks() -> list:
    "The library notebooks in the order of their numbers (architecture last); index.ipynb is the home page."
    nbs = sorted(p for p in NBS.glob('*.ipynb') if p.name != 'index.ipynb' and not p.name.startswith('_'))
    return sorted(nbs, key=lambda p: (not p.name[0].isdigit(), p.name))


def task_notebooks() -> list: return sorted((NBS/'tasks').glob('*.ipynb'))


def _skip_cell(cell) -> bool:
    "Cells `nbdev_test` does not run: flagged with a test flag of settings.ini (`#| slow`) or `#| eval: false`."
    if cell.cell_type != 'code': return True
    d, _ = directives(cell.source)
    return d.get('eval', '').lower() == 'false' or any(f in d for f in _test_flags())


def _test_flags() -> list:
    import configparser
    cfg = configparser.ConfigParser(); cfg.read(ROOT/'settings.ini')
    return cfg['DEFAULT'].get('tst_flags', '').split()


def _execute_one(src_dest) -> tuple:
    "Execute one library notebook the way `nbdev_test` does (execnb, in its folder, test-flagged cells skipped) and write it with its outputs."
    src, dest = map(Path, src_dest)
    os.environ['IN_TEST'] = '1'
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    t, nb = time.time(), read_nb(src)
    sh = CaptureShell(src)
    try:
        with working_directory(src.parent): sh.run_all(nb, exc_stop=True, preproc=_skip_cell)
    except Exception:
        return str(src), None, sh.prettytb(fname=src)
    write_nb(nb, dest)
    return str(src), time.time() - t, ''


def _nb_key(path) -> str:
    "What an executed notebook depends on: itself, the library, the lock file and settings.ini (its test flags)."
    h = hashlib.sha256()
    for p in [path, ROOT/'requirements.lock', ROOT/'settings.ini', *sorted(LIB.glob('*.py'))]: h.update(p.read_bytes())
    return h.hexdigest()[:20]


def execute_library(nbs, workers=2) -> dict:
    "Executed copies of `nbs` (from build/docs-cache/ when nothing they depend on changed): {source path: executed path}."
    from fastcore.parallel import parallel
    CACHE.mkdir(parents=True, exist_ok=True)
    out = {p: CACHE/f'{p.stem}-{_nb_key(p)}.ipynb' for p in nbs}
    todo = [(str(p), str(d)) for p, d in out.items() if not d.exists()]
    if todo:
        print(f'executing {len(todo)} of {len(nbs)} library notebooks ({workers} at a time) ...', flush=True)
        t = time.time()
        results = parallel(_execute_one, todo, n_workers=min(workers, len(todo)), threadpool=False, progress=False)
        failed = [(s, tb) for s, secs, tb in results if secs is None]
        for s, tb in failed: print(f'--- {s} failed:\n{tb}', file=sys.stderr)
        if failed: raise SystemExit(f'{len(failed)} notebook(s) failed to execute: ' + ', '.join(Path(s).name for s, _ in failed))
        print(f'executed in {time.time() - t:.0f} s: ' + ', '.join(f'{Path(s).stem} {secs:.0f} s' for s, secs, _ in sorted(results, key=lambda r: -r[1])[:5]) + ', ...')
    for p in CACHE.glob('*.ipynb'):
        if p not in out.values() and p.stem.rsplit('-', 1)[0] in {q.stem for q in nbs}: p.unlink()   # stale versions
    return out


MATH = re.compile(r'(?<![\\$])\$(?!\$)([^$\n]+?)\$')


def _mathml(md:str) -> str:
    "Inline `$...$` TeX as MathML (Chromium and Firefox render it natively: no MathJax to fetch)."
    from latex2mathml.converter import convert
    return MATH.sub(lambda m: convert(m[1]), md)


def page_notebook(nb:dict, note:str='') -> dict:
    """A notebook as a docs page: `#| hide` and `#| default_exp` cells left out, `#| export` lines removed from shown code
    (other flags such as `#| slow` stay visible), TeX as MathML, an optional note after the title."""
    cells = []
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'code':
            d, code = directives(src)
            if 'hide' in d or 'default_exp' in d: continue
            flags = [f'#| {k}' + (f': {v}' if v else '') for k, v in d.items() if k not in ('export', 'exports')]
            c = dict(c, source='\n'.join(flags + [code]), execution_count=None)
            for o in c.get('outputs', []):
                if 'execution_count' in o: o['execution_count'] = None
        elif c['cell_type'] == 'markdown': c = dict(c, source=_mathml(src))
        cells.append(c)
    if note:
        first = next((i for i, c in enumerate(cells) if c['cell_type'] == 'markdown'), -1)
        cells.insert(first + 1, dict(cell_type='markdown', metadata={}, source=note))
    return dict(nb, cells=cells)


# ---------------------------------------------------------------------------------------------------- generated pages
def modules() -> list:
    "Modules of lib/visionlab in the order of their notebooks: (module, notebook stem, the module's docstring)."
    import ast
    out = []
    for p in LIB.glob('*.py'):
        if p.stem.startswith('_'): continue
        text = p.read_text()
        nb = re.search(r'File to edit: \.\./\.\./nbs/(\S+)\.ipynb', text)
        out.append((p.stem, nb[1] if nb else '', (ast.get_docstring(ast.parse(text)) or '').strip()))
    return sorted(out, key=lambda m: (m[1], m[0]))


def api_pages() -> dict:
    "api/index.md and api/<module>.md: {relative path: text}."
    mods = modules()
    first = lambda doc: ' '.join(doc.split('\n\n')[0].split()).replace('|', '\\|')   # the docstring's first paragraph
    rows = '\n'.join(f'| [visionlab.{m}]({m}.md) | [{nb}](../nbs/{nb}.ipynb) | {first(doc)} |' for m, nb, doc in mods)
    pages = {'api/index.md': '# API reference\n\nOne page per module of `lib/visionlab/`, generated from the docstrings and '
             'signatures of what the module exports (its `__all__`). Each module is written in a notebook, whose page shows '
             'the same functions with their tests and examples.\n\n| module | notebook | what it owns |\n|---|---|---|\n' + rows + '\n'}
    for m, nb, doc in mods:
        pages[f'api/{m}.md'] = (f'# visionlab.{m}\n\nWritten in [`nbs/{nb}.ipynb`](../nbs/{nb}.ipynb), with its prose, tests and examples.\n\n'
                                f'::: visionlab.{m}\n    options:\n      show_root_heading: false\n      show_root_toc_entry: false\n')
    return pages


def figures() -> list:
    "Every figure of paper/ as (study, sub-folder or '', path relative to the repository, file stem)."
    out = []
    for p in sorted(PAPER.rglob('*.png')):
        rel = p.relative_to(PAPER)
        study, sub = rel.parts[0], '/'.join(rel.parts[1:-1])
        out.append((study, sub.removesuffix('figures').strip('/'), str(p.relative_to(ROOT)), p.stem))
    return out


EXTRA_NOTES = {  # figures outside a study's figures/ folder (not written by `vlab paper`, so not in ASSET_NOTES)
    'fmnist_queue_001-100': 'the first 100 images of the Fashion-MNIST review queue (most doubtful first), as judged on the review page',
    'fmnist_queue_101-200': 'images 101-200 of the same review queue',
    'review_page': 'the review page of `vlab review` (keys, top-3 classes, share of models disagreeing)',
    'fashion_mnist_test_copies': 'the Fashion-MNIST test images with a near copy in the training split, each above its closest copy',
}


def gallery_page() -> str:
    "gallery.md: every figure under paper/, grouped by study, each with what it shows (visionlab.report.ASSET_NOTES)."
    from visionlab.report import ASSET_NOTES
    notes, figs = ASSET_NOTES | EXTRA_NOTES, figures()
    lines = ['# Gallery', '', f'Every figure under `paper/` ({len(figs)} PNGs; most also exist as a vector PDF beside them), grouped by '
             'study, with what it shows (the line `vlab paper` writes into the study\'s README). Click a figure for full size.', '']
    for study in dict.fromkeys(f[0] for f in figs):
        readme = PAPER/study/'README.md'
        lines += [f'## {study}', '', (f'[`paper/{study}/README.md`](paper/{study}/README.md): every table and figure of the study.'
                                      if readme.exists() else f'`paper/{study}/`'), '', '<div class="vl-gallery" markdown>', '']
        for _, sub, path, stem in (f for f in figs if f[0] == study):
            pdf = (ROOT/path).with_suffix('.pdf')
            links = f'<a href="{path}">PNG</a>' + (f' · <a href="{path[:-4]}.pdf">PDF</a>' if pdf.exists() else '')
            lines += [f'<figure id="{study}-{sub.replace(".", "-") + "-" if sub else ""}{stem}">',
                      f'<a href="{path}"><img src="{path}" alt="{study}: {stem}" loading="lazy"></a>',
                      f'<figcaption><strong>{stem}</strong>{f" ({sub})" if sub else ""}: {html.escape(notes.get(stem, ""))} {links}</figcaption>',
                      '</figure>', '']
        lines += ['</div>', '']
    return '\n'.join(lines)


TASK_NOTE = ('> **A papermill template.** `vlab run` executes this notebook once per run with the parameters of its grid cell '
             '(`vlab paper` does the same for the aggregation notebooks), and every run keeps its executed copy in its run folder '
             '(`runs/<study>/.../notebook.ipynb`). It is shown here as committed, without outputs.')


def nav() -> list:
    "The site's navigation: hand-written guide pages, notebooks, generated API pages."
    title = lambda p: re.search(r'^# (.+)$', p.read_text(), re.M)[1]
    guide = [{title(DOCS/f): f'docs/{f}'} for f in GUIDE if (DOCS/f).exists()]
    library = [{f'{p.stem} · {_nb_title(p)}': f'nbs/{p.name}'} for p in library_notebooks()]
    tasks = [{f'{p.stem} · {_nb_title(p)}': f'nbs/tasks/{p.name}'} for p in task_notebooks()]
    api = [{'Overview': 'api/index.md'}] + [{f'visionlab.{m}': f'api/{m}.md'} for m, _, _ in modules()]
    studies = [{f'{p.parent.relative_to(PAPER)}': str(p.relative_to(ROOT))} for p in sorted(PAPER.glob('*/README.md'))]
    return [{'Home': 'index.md'}, {'Guide': guide}, {'Results': [{'Overview': 'docs/results.md'}, {'Gallery': 'gallery.md'}, {'Study folders': studies}]},
            {'Library notebooks': library}, {'Task notebooks': tasks}, {'API reference': api}]


GUIDE = ['getting-started.md', 'own-images.md', 'studies.md', 'training.md', 'paper-layer.md', 'foundation.md',
         'anomaly-segmentation.md', 'review.md', 'cluster.md', 'run-folder.md', 'benchmarks.md', 'developing.md', 'limits.md']


def _nb_title(p) -> str:
    nb = json.loads(p.read_text())
    for c in nb['cells']:
        if c['cell_type'] == 'markdown' and (m := re.search(r'^# (.+)$', ''.join(c['source']), re.M)): return m[1].strip()
    return p.stem


# ---------------------------------------------------------------------------------------------------- the site
def assemble(workers=2) -> None:
    "Write build/docs/ (mkdocs' docs_dir) and build/mkdocs.yml."
    import yaml
    if BUILD.exists(): shutil.rmtree(BUILD)
    BUILD.mkdir(parents=True)
    shutil.copy(ROOT/'README.md', BUILD/'index.md')
    shutil.copytree(DOCS, BUILD/'docs', ignore=shutil.ignore_patterns('*.py', '__pycache__'))
    shutil.copytree(PAPER, BUILD/'paper')
    shutil.copytree(ROOT/'params', BUILD/'params', ignore=shutil.ignore_patterns('__pycache__'))
    (BUILD/'nbs'/'tasks').mkdir(parents=True)
    for src, done in execute_library(library_notebooks(), workers).items():
        (BUILD/'nbs'/src.name).write_text(json.dumps(page_notebook(json.loads(done.read_text()))))
    for p in task_notebooks():
        (BUILD/'nbs'/'tasks'/p.name).write_text(json.dumps(page_notebook(json.loads(p.read_text()), TASK_NOTE)))
    for rel, text in api_pages().items():
        (BUILD/rel).parent.mkdir(parents=True, exist_ok=True); (BUILD/rel).write_text(text)
    (BUILD/'gallery.md').write_text(gallery_page())
    cfg = yaml.safe_load((ROOT/'mkdocs.yml').read_text())
    cfg |= dict(docs_dir=str(BUILD), site_dir=str(SITE), nav=nav(), hooks=[str(DOCS/'hooks.py')])
    for p in cfg['plugins']:
        if isinstance(p, dict) and 'mkdocstrings' in p: p['mkdocstrings']['handlers']['python']['paths'] = [str(ROOT/'lib')]
        if isinstance(p, dict) and 'mkdocs-jupyter' in p: p['mkdocs-jupyter']['cache_dir'] = str(ROOT/'build'/'mkdocs-jupyter-cache')
    (ROOT/'build'/'mkdocs.yml').write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))


def build_site(workers=2) -> None:
    t = time.time()
    write_readme()
    assemble(workers)
    print(f'assembled build/docs/ in {time.time() - t:.0f} s; mkdocs build ...', flush=True)
    r = subprocess.run([sys.executable, '-m', 'mkdocs', 'build', '--strict', '--clean', '-f', str(ROOT/'build'/'mkdocs.yml')], cwd=ROOT)
    if r.returncode: raise SystemExit(f'mkdocs build failed ({r.returncode})')
    remote = offline_problems(SITE)
    if remote: raise SystemExit('the site loads assets from the internet (it must work offline):\n' + '\n'.join(remote[:20]))
    pages = len(list(SITE.rglob('*.html')))
    print(f'site/: {pages} HTML pages in {time.time() - t:.0f} s; `make docs-serve` serves it at http://127.0.0.1:8000/')


def offline_problems(site) -> list:
    "Every script, stylesheet, image or font the built pages would fetch from another host."
    pat = re.compile(r'''<(?:script|img|iframe|source)\b[^>]*\bsrc=["'](https?:)?//|<link\b[^>]*\bhref=["'](https?:)?//|url\(["']?(https?:)?//''', re.I)
    out = []
    for p in Path(site).rglob('*'):
        if p.suffix in ('.html', '.css', '.js') and p.is_file():
            for m in pat.finditer(p.read_text(errors='replace')):
                out.append(f'{p.relative_to(site)}: {p.read_text(errors="replace")[m.start():m.start() + 120]!r}')
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('what', choices=['readme', 'site'])
    ap.add_argument('--workers', type=int, default=2, help='library notebooks executed at a time')
    a = ap.parse_args(argv)
    write_readme() if a.what == 'readme' else build_site(a.workers)


if __name__ == '__main__':
    sys.path.insert(0, str(Path(__file__).parent))
    import make_docs   # the worker processes that execute notebooks import this module by name, not as __main__
    make_docs.main()
