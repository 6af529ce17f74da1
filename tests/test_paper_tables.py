"""The committed quickstart tables (`paper/quickstart/tables`) come back byte for byte from their own CSVs through the paper writers
(`visionlab.figures`, `visionlab.routing`): moving the writers between modules (issue 22) changed no table. Seconds, no training."""
from pathlib import Path
import pandas as pd
from visionlab.report import booktabs_table, latex_escape
from visionlab.routing import write_routing_assets

PAPER = Path(__file__).resolve().parent.parent/'paper'/'quickstart'/'tables'


def test_per_class_f1_table_regenerates_byte_identical():
    f1 = pd.read_csv(PAPER/'per_class_f1.csv', index_col=0); f1.columns = [str(c) for c in f1.columns]
    cap = f"{latex_escape('digits')}: F1 per class (oof split; test: fold models' probabilities averaged). Best per class in bold."
    assert booktabs_table(f1, cap, 'tab:digits_per_class_f1', list(f1.columns), digits=3) == (PAPER/'per_class_f1.tex').read_text()


def test_routing_table_regenerates_byte_identical(tmp_path):
    rt = pd.read_csv(PAPER/'routing.csv', index_col=[0, 1])
    paths = write_routing_assets(rt, None, tmp_path, 'digits')
    assert paths['routing'].read_bytes() == (PAPER/'routing.tex').read_bytes()
    assert paths['routing_csv'].read_bytes() == (PAPER/'routing.csv').read_bytes()
