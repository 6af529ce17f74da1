"""`vlab paper` turns a study's run folders into a booktabs table and a 300-DPI confusion matrix."""
from PIL import Image
from conftest import vlab


def test_paper_assets_from_a_real_grid(digits_study, tmp_path):
    study_dir, _ = digits_study
    vlab('paper', study_dir, '--out', tmp_path/'paper', check=True)
    tex = (tmp_path/'paper/tables/summary.tex').read_text()
    assert r'\toprule' in tex and r'\bottomrule' in tex and r'\textbf' in tex and r'\pm' in tex
    for row in ['cnn', 'resnet', 'stack']: assert row in tex.replace(r'\_', '_'), row
    png = tmp_path/'paper/figures/confusion_matrix.png'
    assert (tmp_path/'paper/figures/confusion_matrix.pdf').exists()
    dpi = Image.open(png).info['dpi']
    assert round(dpi[0]) == 300 and round(dpi[1]) == 300
    assert (study_dir/'paper_summary.ipynb').exists()   # the executed aggregation notebook is kept with the runs
