"""PatchCore settings on the textile local defects: a first look on the training half only (issue 26, item 1).

Why this exists: the local defects are a pixel-level speckle of about 9x21 px in a 250x250 image, and which backbone
layers and which input resolution can see it decides PatchCore far more than the bank or the reduction. This script
scores a few configurations side by side on the *training* half of textile_anomaly (the study's held-out half is never
touched): a bank from 80 nominal images, and 50 other nominal, 50 local and 50 global images scored. For each
configuration `SIZE:LAYERS` (input size in px, `visionlab.anomaly.PatchFeatures` layer indices of EfficientNet-Lite0
with its offline ImageNet weights) it builds the bank as the study does (a greedy coreset, `greedy_coreset`, of
`--bank` patches from a seeded random pool of 100,000), scores every patch by its nearest bank patch, upsamples the map
to the image, smooths it (`smooth_maps`, sigma 4) and reduces it four ways (max, as published; max over the map's median;
mean of the top 1%; mean of the top 0.1% over the median). Prints one line per configuration and reduction and writes
them to --out (default paper/bench/patchcore_look.csv).

    OMP_NUM_THREADS=2 python params/bench/patchcore_look.py 256:2,3 256:1 256:0,1 512:1 [--bank 3000]
"""
import argparse, time
from pathlib import Path
import numpy as np, pandas as pd, torch, torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from visionlab.data import get_task, load_image
from visionlab.anomaly import PatchFeatures, greedy_coreset, smooth_maps, nearest_distance
from visionlab.train import norm_stats

REDUCTIONS = ('max', 'max_over_median', 'top1pct', 'top01pct_over_median')


def images(td, df, size, mean, std):
    "The rows' images as a normalised batch at `size` px (bilinear)."
    x = torch.stack([torch.from_numpy(np.array(load_image(td, 'train', r))).permute(2, 0, 1).float() / 255 for r in df.to_dict('records')])
    if x.shape[-1] != size: x = F.interpolate(x, size=(size, size), mode='bilinear', align_corners=False)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def reductions(m):
    "The four image scores of smoothed maps (N,H,W)."
    f = m.flatten(1); med = f.median(1).values.clamp_min(1e-12)
    return torch.stack([f.amax(1), f.amax(1) / med, f.topk(max(1, int(0.01 * f.shape[1])), 1).values.mean(1),
                        f.topk(max(1, int(0.001 * f.shape[1])), 1).values.mean(1) / med], 1)


def look(td, bank_rows, queries, size, layers, n_bank, sigma=4.0, seed=0):
    mean, std = norm_stats('efficientnet_lite0', 3); t0 = time.time()
    fx = PatchFeatures('efficientnet_lite0', layers, 3, 'imagenet').eval()
    with torch.no_grad():
        P = torch.cat([fx(images(td, bank_rows.iloc[i:i + 16], size, mean, std)).permute(0, 2, 3, 1).flatten(0, 2) for i in range(0, len(bank_rows), 16)])
        pool = P[torch.randperm(len(P), generator=torch.Generator().manual_seed(seed))[:100_000]]
        t1 = time.time(); bank = pool[greedy_coreset(pool, n_bank, seed=seed)]; t2 = time.time()
        scores = {}
        for name, df in queries.items():
            s = []
            for i in range(0, len(df), 10):
                x = images(td, df.iloc[i:i + 10], size, mean, std); f = fx(x); n, d, h, w = f.shape
                m = nearest_distance(f.permute(0, 2, 3, 1).reshape(-1, d), bank).reshape(n, 1, h, w)
                s.append(reductions(smooth_maps(F.interpolate(m, size=(size, size), mode='bilinear', align_corners=False)[:, 0], sigma)))
            scores[name] = torch.cat(s).numpy()
    auc = lambda k, j: roc_auc_score(np.r_[np.zeros(len(scores['nominal'])), np.ones(len(scores[k]))], np.r_[scores['nominal'][:, j], scores[k][:, j]])
    return [dict(size=size, layers='+'.join(map(str, layers)), grid=f'{h}x{w}', patch_dim=d, patches=len(P), bank=len(bank), reduce=r,
                 local_auc=round(auc('local', j), 3), global_auc=round(auc('global', j), 3),
                 features_s=round(t1 - t0), coreset_s=round(t2 - t1), score_s=round(time.time() - t2)) for j, r in enumerate(REDUCTIONS)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('configs', nargs='+', help='SIZE:LAYERS, e.g. 512:1 or 256:2,3')
    ap.add_argument('--bank', type=int, default=3000); ap.add_argument('--out', default='paper/bench/patchcore_look.csv')
    a = ap.parse_args(); torch.manual_seed(0)
    td = get_task('textile_anomaly'); t = td.train
    nom = t[t.label == 0]; bank_rows = nom.sample(80, random_state=0)
    queries = dict(nominal=nom.drop(bank_rows.index).sample(50, random_state=1), local=t[t.defect == 'local'].sample(50, random_state=2),
                   global_=t[t.defect == 'global'].sample(50, random_state=3))
    queries['global'] = queries.pop('global_')
    rows = []
    for c in a.configs:
        size, layers = c.split(':')
        for r in look(td, bank_rows, queries, int(size), [int(v) for v in layers.split(',')], a.bank):
            print(' '.join(f'{k}={v}' for k, v in r.items()), flush=True); rows.append(r)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True); pd.DataFrame(rows).to_csv(a.out, index=False); print('wrote', a.out)


if __name__ == '__main__':
    main()
