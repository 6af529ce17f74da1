"""Segment the Fashion-MNIST mosaics by finding the items, then naming each one with a classifier of its own.

Why this exists (issue 26, item 2): params/bench/seg_look.py measured that the fmnist_seg U-Nets draw shapes and
overlaps about as well as exact shapes would, and that the distance to 0.80 mIoU is naming the items (0.74 of the
held-out items named right after 14 epochs; about 0.9 is needed). A U-Net learns the names pixel by pixel from a mosaic
where items sit anywhere; a classifier learns them from the item itself, aligned in its 28x28 frame, which is the task
Fashion-MNIST classifiers reach 0.93-0.95 on. So this splits the work the way two-stage instance segmentation does
(Mask R-CNN names each region with a head of its own; Panoptic-DeepLab groups pixels by a regressed offset to their
instance's centre):

    offsets     a U-Net (the study's Lite0 U-Net, class-weighted Dice + CE on the 11 classes, fresh mosaics each epoch)
                with two more output channels that regress, at each item pixel, the offset (/32) to the centre of the
                item's 28x28 frame (L1, item pixels only)
    classifier  airnet (the airbench network of `fmnist_fast`) trained on 28x28 crops of fresh training mosaics at each
                item's frame (jittered by up to +-`--jitter` px), labelled with the item's class, each weighted by its
                visible pixel count (over the mean); label smoothing 0.1, one-cycle, horizontal flips; with
                `--regress` two more outputs regress the crop's shift from the frame (smooth L1)
    combine     no training: on the held-out and test mosaics, the U-Net's item pixels vote for centres (pixel +
                offset); the vote histogram, smoothed (Gaussian, sigma 1), gives peaks (local maxima over 7x7 holding
                at least `--min_votes`); each item pixel joins the peak nearest to its vote; each group is named
                (group_vote) by the U-Net's own class vote over the group (Panoptic-DeepLab's way), (crop) by the
                classifier on the 28x28 crop at the peak (flip TTA), (refined, with --regress) by the classifier on
                the crop moved by the shift it predicted there (Faster R-CNN's box refinement, once), (+_plus_vote)
                by the classifier's log-probabilities plus the mean of the U-Net's over the group. Also the U-Net
                alone (unet: per-pixel argmax). Item accuracy as in seg_look.py.
    diagnose    no training: each stage made exact in turn (below)
    figure      no training: the first 5 test mosaics, image with the groups' crops, truth, U-Net alone, found then named

The two training arms run at once, one thread each; the issue's "30 min on 2 cores" counts the wall time of both plus
combine (paper/bench/seg_items_wall.csv). Run here (2-core AMD EPYC, float32):

    # v1: crops jittered +-2 px; combine first with --min_votes 20 (seg_items_v1_combine_minvotes20.csv, before the
    # flip TTA), then min_votes 5 chosen on the held-out mosaics (seg_items_v1_combine.csv: the same weights rescored)
    OMP_NUM_THREADS=1 python params/bench/seg_items.py offsets --epochs 7 --out paper/bench/seg_items_v1_{arm}.csv &
    OMP_NUM_THREADS=1 python params/bench/seg_items.py classifier --epochs 7 --out paper/bench/seg_items_v1_{arm}.csv; wait
    OMP_NUM_THREADS=2 python params/bench/seg_items.py combine --out paper/bench/seg_items_v1_{arm}.csv
    OMP_NUM_THREADS=2 python params/bench/seg_items.py diagnose --out paper/bench/seg_items_v1_{arm}.csv
    # v2: the classifier also regresses where the item's frame is (crops jittered +-6 px) and combine crops again there
    OMP_NUM_THREADS=1 python params/bench/seg_items.py offsets --epochs 8 &
    OMP_NUM_THREADS=1 python params/bench/seg_items.py classifier --regress --jitter 6 --epochs 6; wait
    OMP_NUM_THREADS=2 python params/bench/seg_items.py combine
    OMP_NUM_THREADS=2 python params/bench/seg_items.py diagnose
    # v3: the crop shifts drawn normal (std 3 px, clipped at 8), small as the found centres' errors mostly are
    OMP_NUM_THREADS=1 python params/bench/seg_items.py offsets --epochs 8 --out paper/bench/seg_items_v3_{arm}.csv &
    OMP_NUM_THREADS=1 python params/bench/seg_items.py classifier --regress --jitter 8 --jitter_sd 3 --epochs 6 --out paper/bench/seg_items_v3_{arm}.csv; wait
    OMP_NUM_THREADS=2 python params/bench/seg_items.py combine --out paper/bench/seg_items_v3_{arm}.csv
    OMP_NUM_THREADS=2 python params/bench/seg_items.py diagnose --out paper/bench/seg_items_v3_{arm}.csv
    python params/bench/seg_items.py figure    # paper/bench/seg_items_examples.{png,pdf}, with the weights in runs/bench (v3's)

Each training arm writes paper/bench/seg_items_<arm>.csv (one row per epoch) and its weights to runs/bench/; combine
writes paper/bench/seg_items_combine.csv: one row per way of naming and per set (300 held-out training mosaics, seed 7,
not seg_look.py's; the 300 test-split mosaics seg_look.py scores; the 1,000 test-split mosaics of the fmnist_seg
study's test set), pooled mIoU with a 95% bootstrap interval over mosaics, and the paired difference to the U-Net
alone; diagnose writes seg_items_diagnose.csv: on the held-out mosaics, each stage made exact in turn.

Result (v3, 28.5 min): 0.66 [0.6459, 0.6746] test mIoU on the study's 1,000 test mosaics against the committed study's
0.622 [0.610, 0.635] (26.3 min) and 0.5722 for the same U-Net's own per-pixel classes (+0.0877 [+0.0756, +0.1017],
paired); v2 0.6529 (29.0 min), v1 0.6338 (31.9 min). Each stage alone is near 0.80 (diagnose: v3's classifier naming
exact frames and shapes 0.825; the U-Net's groups given their true classes 0.7979); their errors add up. v1's
classifier names exact frames best (0.8496) but its crops at the found centres are off by 2.5 px (median) and it was
not taught to correct them. v2 and v3 train the same U-Net (same seeds: identical numbers but the seconds).
"""
import argparse, time
from pathlib import Path
import numpy as np, pandas as pd, torch, torch.nn as nn, torch.nn.functional as F
from scipy import ndimage
from visionlab.segment import SEG_CLASSES, image_confusions, iou_ci, seg_class_weights, seg_loss, seg_confusion, seg_metrics, seg_model, fmnist_mosaics
from visionlab.config import Recipe, from_dict
from visionlab.train import make_optimizer, make_scheduler
from visionlab.data import fashion_mnist
from visionlab.models import AirNet
from visionlab.calibrate import resample_counts

WEIGHTS = Path('runs/bench')


def fmnist_split(split):
    "Images and labels of the official Fashion-MNIST split `split` ('train' or 'test'), from the library's `fashion_mnist` task."
    td = fashion_mnist(); return td.arrays[split], (td.train if split == 'train' else td.test).label.to_numpy()


def mosaics_with_items(split, n, seed, FX=None, FY=None):
    "`fmnist_mosaics(split, n, seed=seed)` rebuilt with its own draws, plus per mosaic the owner map (index of the item each pixel shows, -1 background) and its items (k,4: frame row, frame column, class, index in the split)."
    if FX is None: FX, FY = fmnist_split(split)
    rng = np.random.default_rng([seed, 0 if split == 'train' else 1])
    X, M, O, B = np.zeros((n, 64, 64), np.uint8), np.zeros((n, 64, 64), np.uint8), np.full((n, 64, 64), -1, np.int8), []
    for i in range(n):
        k = rng.integers(2, 5); idx = rng.choice(len(FX), k, replace=False); b = []
        for j, item in enumerate(idx):
            r, c = rng.integers(0, 64 - 28 + 1, 2); on = FX[item] > 40
            X[i, r:r + 28, c:c + 28][on] = FX[item][on]; M[i, r:r + 28, c:c + 28][on] = FY[item] + 1; O[i, r:r + 28, c:c + 28][on] = j
            b.append((r, c, FY[item], item))
        B.append(np.array(b))
    return X, M, O, B


def offset_targets(O, B):
    "Per pixel the offset (dy, dx) / 32 from the pixel to the centre of its item's frame; zero on background: (n,2,64,64) float32."
    yy, xx = np.mgrid[:64, :64]; T = np.zeros((len(O), 2, 64, 64), np.float32)
    for i, (o, b) in enumerate(zip(O, B)):
        for j, (r, c, _, _) in enumerate(b):
            on = o == j; T[i, 0][on] = (r + 13.5 - yy[on]) / 32; T[i, 1][on] = (c + 13.5 - xx[on]) / 32
    return T


def item_crops(X, O, B, jitter, rng, sd=0):
    "28x28 crops at each visible item's frame shifted by up to `jitter` px (uniformly, or rounded normal with std `sd` clipped there; kept on the canvas), its class, its visible pixel count, the shift (rows, columns)."
    xs, ys, ws, sh = [], [], [], []
    for x, o, b in zip(X, O, B):
        for j, (r, c, y, _) in enumerate(b):
            vis = (o == j).sum()
            if vis == 0: continue
            dr, dc = (np.clip(np.round(rng.normal(0, sd, 2)), -jitter, jitter).astype(int) if sd else rng.integers(-jitter, jitter + 1, 2)) if jitter else (0, 0)
            r2, c2 = np.clip(r + dr, 0, 36), np.clip(c + dc, 0, 36)
            xs.append(x[r2:r2 + 28, c2:c2 + 28]); ys.append(y); ws.append(vis); sh.append((r2 - r, c2 - c))
    return np.stack(xs), np.array(ys), np.array(ws, float), np.array(sh, np.float32)


def offsets_arm(a, out):
    "Train the Lite0 U-Net with 11 class channels and 2 offset channels on fresh mosaics; held-out mIoU each epoch."
    n = a.n_train; FX, FY = fmnist_split('train')
    Xv, Mv, Ov, Bv = mosaics_with_items('train', 300, 7, FX, FY)
    model = seg_model('tu-efficientnet_lite0', 13, 1, 'unet', 'imagenet').to(memory_format=torch.channels_last)
    bs = 32; nb = n // bs; r = from_dict(Recipe, dict(epochs=a.epochs, lr=2e-3, weight_decay=1e-4, schedule='cosine', warmup_epochs=0.5, batch_size=bs))
    opt = make_optimizer(model, r); sched = make_scheduler(opt, r, nb); g = torch.Generator().manual_seed(0)
    rows, t0, w, Tv = [], time.time(), None, torch.tensor(offset_targets(Ov, Bv))
    for e in range(a.epochs):
        X, M, O, B = mosaics_with_items('train', n, 1000 + e, FX, FY)
        if w is None: w = seg_class_weights(M, 11); MEAN, STD = float(X.mean() / 255), float(X.std() / 255)
        Xt, Mt, Tt = (torch.tensor(X).float()[:, None] / 255 - MEAN) / STD, torch.tensor(M).long(), torch.tensor(offset_targets(O, B))
        model.train(); perm = torch.randperm(n, generator=g); L = []
        for b in range(nb):
            i = perm[b * bs:(b + 1) * bs]; x, m, t = Xt[i], Mt[i], Tt[i]
            if torch.rand(1, generator=g) < 0.5: x, m, t = x.flip(-1), m.flip(-1), t.flip(-1) * torch.tensor([1., -1.])[:, None, None]
            if torch.rand(1, generator=g) < 0.5: x, m, t = x.flip(-2), m.flip(-2), t.flip(-2) * torch.tensor([-1., 1.])[:, None, None]
            o = model(x); fg = (m > 0)[:, None].float()
            l_off = ((o[:, 11:] - t).abs() * fg).sum() / fg.sum().clamp_min(1) / 2
            loss = seg_loss(o[:, :11], m, w, gamma=0.0) + a.off_weight * l_off
            opt.zero_grad(); loss.backward(); nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); sched.step(); L.append(l_off.item())
        model.eval()
        with torch.no_grad(): o = model((torch.tensor(Xv).float()[:, None] / 255 - MEAN) / STD)
        s = seg_metrics(seg_confusion(o[:, :11].argmax(1).numpy(), Mv, 11), SEG_CLASSES)
        fgv = torch.tensor(Ov >= 0)[:, None].expand(-1, 2, -1, -1)
        err = ((o[:, 11:] - Tv).abs()[fgv] * 32).mean().item()
        rows.append(dict(arm='offsets', epoch=e + 1, seconds=round(time.time() - t0), miou=round(s['miou'], 4), train_offset_l1_px=round(32 * float(np.mean(L)), 3), offset_err_px=round(err, 3)))
        print(rows[-1], flush=True)
    WEIGHTS.mkdir(parents=True, exist_ok=True); torch.save(dict(state=model.state_dict(), mean=MEAN, std=STD), WEIGHTS/'seg_items_offsets.pt')
    pd.DataFrame(rows).to_csv(out, index=False)


def classifier_arm(a, out):
    "Train airnet on jittered item crops of fresh training mosaics; accuracy on the held-out mosaics' crops (unjittered) each epoch."
    FX, FY = fmnist_split('train'); rng = np.random.default_rng(0)
    Xv, Mv, Ov, Bv = mosaics_with_items('train', 300, 7, FX, FY); cv, yv, wv, _ = item_crops(Xv, Ov, Bv, 0, rng)
    MEAN, STD = 0.286, 0.353   # Fashion-MNIST's training images
    model = AirNet(1, 12 if a.regress else 10, widths=tuple(a.widths)).to(memory_format=torch.channels_last)   # with --regress 2 more outputs: the frame shift / jitter
    first = mosaics_with_items('train', 2000, 999, FX, FY); c0 = item_crops(first[0], first[2], first[3], a.jitter, rng, a.jitter_sd)[0]
    model.data_init((torch.tensor(c0).float()[:, None] / 255 - MEAN) / STD)
    bs = 256; n_mos = a.n_crops_mosaics; rows, t0 = [], time.time()
    r = from_dict(Recipe, dict(epochs=a.epochs, lr=5e-3, weight_decay=5e-4, schedule='onecycle', warmup_epochs=0.3 * a.epochs, batch_size=bs))
    nb = None; opt = make_optimizer(model, r); g = torch.Generator().manual_seed(0)
    for e in range(a.epochs):
        X, M, O, B = mosaics_with_items('train', n_mos, 2000 + e, FX, FY); cx, cy, cw, cs = item_crops(X, O, B, a.jitter, rng, a.jitter_sd)
        vis = torch.tensor(cw, dtype=torch.float32); vis = vis / vis.mean()
        Xc, Yc, Sc = (torch.tensor(cx).float()[:, None] / 255 - MEAN) / STD, torch.tensor(cy).long(), torch.tensor(cs) / max(a.jitter, 1)
        if nb is None: nb = len(Xc) // bs; sched = make_scheduler(opt, r, nb)
        model.train(); perm = torch.randperm(len(Xc), generator=g); acc = []
        for b in range(nb):
            i = perm[b * bs:(b + 1) * bs]; x = Xc[i]
            flip = torch.rand(len(i), generator=g) < 0.5; x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            o = model(x); loss = (F.cross_entropy(o[:, :10], Yc[i], label_smoothing=0.1, reduction='none') * vis[i]).mean()
            if a.regress: loss = loss + F.smooth_l1_loss(o[:, 10:], Sc[i] * torch.stack([torch.ones(len(i)), 1 - 2 * flip.float()], 1), beta=0.1)
            opt.zero_grad(); loss.backward(); opt.step(); sched.step(); acc.append((o.argmax(1) == Yc[i]).float().mean().item())
        model.eval()
        with torch.no_grad(): pv = model((torch.tensor(cv).float()[:, None] / 255 - MEAN) / STD)[:, :10].argmax(1).numpy()
        rows.append(dict(arm='classifier', epoch=e + 1, seconds=round(time.time() - t0), crops=len(Xc), train_acc=round(float(np.mean(acc)), 4),
                         heldout_item_acc=round(float((pv == yv).mean()), 4), heldout_pixel_weighted_acc=round(float(((pv == yv) * wv).sum() / wv.sum()), 4)))
        print(rows[-1], flush=True)
    WEIGHTS.mkdir(parents=True, exist_ok=True); torch.save(dict(state=model.state_dict(), mean=MEAN, std=STD, widths=a.widths, regress=a.regress, jitter=a.jitter), WEIGHTS/'seg_items_classifier.pt')
    pd.DataFrame(rows).to_csv(out, index=False)


def group(fg, off, min_votes, sigma=1.0):
    "Peaks of the smoothed vote histogram of the item pixels `fg` (64,64 bool) voting pixel + offset (2,64,64, px), and each item pixel's peak index (-1 off fg)."
    yy, xx = np.mgrid[:64, :64]; vy, vx = yy + off[0], xx + off[1]
    H = np.zeros((64, 64)); np.add.at(H, (np.clip(np.round(vy[fg]), 0, 63).astype(int), np.clip(np.round(vx[fg]), 0, 63).astype(int)), 1)
    S = ndimage.gaussian_filter(H, sigma) * 2 * np.pi * sigma ** 2   # ~ votes within a sigma-wide disc
    peaks = np.argwhere((S == ndimage.maximum_filter(S, 7)) & (S >= min_votes))
    if not len(peaks) and fg.any(): peaks = np.argwhere(S == S.max())[:1]
    lab = np.full((64, 64), -1)
    if len(peaks): lab[fg] = ((vy[fg][:, None] - peaks[:, 0]) ** 2 + (vx[fg][:, None] - peaks[:, 1]) ** 2).argmin(1)
    return peaks, lab


def _iou(conf):
    "IoU per class of (..., C, C) confusions; NaN where a class has no pixel in truth or prediction."
    tp = np.diagonal(conf, axis1=-2, axis2=-1); u = conf.sum(-1) + conf.sum(-2) - tp
    with np.errstate(invalid='ignore', divide='ignore'): return np.where(u > 0, tp / u, np.nan)


def item_accuracy(pred, O, B):
    "Share of the visible items whose visible pixels' most frequent predicted label (background left out) is their class + 1."
    hit = []
    for p, o, b in zip(pred, O, B):
        for j, (_, _, y, _) in enumerate(b):
            if not (o == j).any(): continue
            v = p[o == j]; v = v[v > 0]; hit.append(len(v) > 0 and np.bincount(v).argmax() == y + 1)
    return float(np.mean(hit))


def load_models():
    "The two trained stages from runs/bench: the U-Net and its settings, the classifier and its settings (the first run's classifier saved no regress / jitter: none, 2)."
    so, sc = torch.load(WEIGHTS/'seg_items_offsets.pt'), torch.load(WEIGHTS/'seg_items_classifier.pt'); sc.setdefault('regress', False); sc.setdefault('jitter', 2)
    unet = seg_model('tu-efficientnet_lite0', 13, 1, 'unet', None); unet.load_state_dict(so['state']); unet.eval()
    clf = AirNet(1, 12 if sc['regress'] else 10, widths=tuple(sc['widths'])); clf.load_state_dict(sc['state']); clf.eval()
    return unet, so, clf, sc


def classify_crops(clf, sc, X, frames, flip_tta=True):
    "The classifier's outputs (class log-probabilities, and with regress the frame shift in px) on the 28x28 crops of mosaics X at `frames` (mosaic, row, column); flip TTA averages a crop and its mirror."
    x = (torch.tensor(np.stack([X[i, r:r + 28, c:c + 28] for i, r, c in frames])).float()[:, None] / 255 - sc['mean']) / sc['std']
    with torch.no_grad():
        o = torch.cat([clf(x[k:k + 1000]) for k in range(0, len(x), 1000)])
        if flip_tta: o2 = torch.cat([clf(x[k:k + 1000].flip(-1)) for k in range(0, len(x), 1000)])
    lp = o[:, :10].log_softmax(1); lp = (lp + o2[:, :10].log_softmax(1)) / 2 if flip_tta else lp
    shift = o[:, 10:] * sc['jitter'] if sc['regress'] else None
    if shift is not None and flip_tta: shift = (shift + o2[:, 10:] * sc['jitter'] * torch.tensor([1., -1.])) / 2
    return lp.numpy(), None if shift is None else shift.numpy()


def predict(X, unet, so, clf, sc, min_votes):
    "The U-Net's per-pixel classes (n,64,64), the masks of every way of naming its groups (dict), and the groups (mosaic, frame row, frame column, pixel mask)."
    with torch.no_grad(): o = torch.cat([unet((torch.tensor(X[k:k + 250]).float()[:, None] / 255 - so['mean']) / so['std']) for k in range(0, len(X), 250)])
    logp = o[:, :11].log_softmax(1).numpy(); off = o[:, 11:].numpy() * 32; pix = logp.argmax(1)
    frames, groups = [], []
    for i in range(len(X)):
        peaks, lab = group(pix[i] > 0, off[i], min_votes)
        for k, (pr, pc) in enumerate(peaks):
            on = lab == k
            if on.any(): frames.append((i, int(np.clip(round(pr - 13.5), 0, 36)), int(np.clip(round(pc - 13.5), 0, 36)))); groups.append(on)
    names = dict(crop=classify_crops(clf, sc, X, frames))
    if sc['regress']:   # the second stage's frame correction: crop again where the classifier says the item's frame is
        sh = names['crop'][1]
        moved = [(i, int(np.clip(round(r - dr), 0, 36)), int(np.clip(round(c - dc), 0, 36))) for (i, r, c), (dr, dc) in zip(frames, sh)]
        names['refined'] = classify_crops(clf, sc, X, moved)
    preds = dict(unet=pix, group_vote=np.zeros_like(pix), **{k + v: np.zeros_like(pix) for k in names for v in ('', '_plus_vote')})
    for g, ((i, _, _), on) in enumerate(zip(frames, groups)):
        vote = logp[i][1:, on].mean(1)   # the U-Net's mean log-probability of each item class over the group
        preds['group_vote'][i][on] = vote.argmax() + 1
        for k, (lp, _) in names.items(): preds[k][i][on] = lp[g].argmax() + 1; preds[k + '_plus_vote'][i][on] = (lp[g] + vote).argmax() + 1
    return pix, preds, [(i, r, c, on) for (i, r, c), on in zip(frames, groups)]


def combine_arm(a, out):
    "Score the U-Net alone and the ways of naming its groups on the held-out and the test-split mosaics."
    unet, so, clf, sc = load_models()
    FX, FY = fmnist_split('train'); TX, TY = fmnist_split('test'); rows = []
    sets = dict(heldout=mosaics_with_items('train', 300, 7, FX, FY), test300=mosaics_with_items('test', 300, 0, TX, TY), test1000=mosaics_with_items('test', 1000, 0, TX, TY))
    ref, *_ = fmnist_mosaics('test', 1000, seed=0); assert (ref == sets['test1000'][0]).all()
    for name, (X, M, O, B) in sets.items():
        t0 = time.time(); pix, preds, _ = predict(X, unet, so, clf, sc, a.min_votes)
        secs = time.time() - t0
        W = np.concatenate(list(resample_counts(len(X), 1000, 0)))   # the same resamples for every naming: paired with the U-Net alone
        base, base_miou = np.nanmean(_iou((W @ image_confusions(pix, M, 11).reshape(len(X), -1)).reshape(-1, 11, 11)), 1), seg_metrics(seg_confusion(pix, M, 11))['miou']
        for key, p in preds.items():
            s = seg_metrics(seg_confusion(p, M, 11), SEG_CLASSES); C = image_confusions(p, M, 11); ci = iou_ci(C)
            diff = np.nanmean(_iou((W @ C.reshape(len(X), -1)).reshape(-1, 11, 11)), 1) - base
            rows.append(dict(set=name, naming=key, mosaics=len(X), miou=round(s['miou'], 4), miou_lo=round(ci['miou_lo'], 4), miou_hi=round(ci['miou_hi'], 4),
                             vs_unet=round(s['miou'] - base_miou, 4), vs_unet_lo=round(float(np.percentile(diff, 2.5)), 4), vs_unet_hi=round(float(np.percentile(diff, 97.5)), 4),
                             item_acc=round(item_accuracy(p, O, B), 4), seconds=round(secs, 1), **{f'iou_{c}': round(v, 4) for c, v in s['iou'].items()}))
            print({k: rows[-1][k] for k in ('set', 'naming', 'miou', 'miou_lo', 'miou_hi', 'vs_unet', 'vs_unet_lo', 'vs_unet_hi', 'item_acc', 'seconds')}, flush=True)
    pd.DataFrame(rows).to_csv(out, index=False)


def diagnose_arm(a, out):
    "Which stage loses what, on the held-out mosaics: each stage made exact in turn (true frames and shapes named by the classifier; the U-Net's groups given their true class; purity: a group's share of pixels shown by its main item)."
    unet, so, clf, sc = load_models()
    FX, FY = fmnist_split('train'); X, M, O, B = mosaics_with_items('train', 300, 7, FX, FY)
    _, _, groups = predict(X, unet, so, clf, sc, a.min_votes)
    truth = [(i, r, c) for i, b in enumerate(B) for r, c, _, _ in b]; lp, _ = classify_crops(clf, sc, X, truth)
    named, k = np.zeros_like(M), 0
    for i, b in enumerate(B):
        for j in range(len(b)): named[i][O[i] == j] = lp[k].argmax() + 1; k += 1
    grouped, purity = np.zeros_like(M), []
    for i, _, _, on in groups:
        own = O[i][on]; own = own[own >= 0]
        if len(own): j = np.bincount(own).argmax(); grouped[i][on] = B[i][j][2] + 1; purity.append((own == j).mean())
    rows = [dict(case='classifier at the true frames, true shapes', miou=seg_metrics(seg_confusion(named, M, 11), SEG_CLASSES)['miou'], item_acc=item_accuracy(named, O, B)),
            dict(case="the U-Net's groups, each given its true class", miou=seg_metrics(seg_confusion(grouped, M, 11), SEG_CLASSES)['miou'], item_acc=item_accuracy(grouped, O, B),
                 groups=len(groups), group_purity=round(float(np.mean(purity)), 4), visible_items=int(sum((O[i] == j).any() for i, b in enumerate(B) for j in range(len(b)))))]
    for r in rows: r.update(miou=round(r['miou'], 4), item_acc=round(r['item_acc'], 4)); print(r)
    pd.DataFrame(rows).to_csv(out, index=False)


def figure_arm(a, out):
    "The first 5 of the study's 1,000 test mosaics (not picked): image with each group's crop, truth, the U-Net's own classes, the items found and named (v2: refined)."
    from matplotlib.patches import Rectangle
    from visionlab.style import new_figure, save_figure, class_colors, class_image, class_legend, PALETTE, FONT
    unet, so, clf, sc = load_models(); n = 5
    X, M, O, B = mosaics_with_items('test', n, 0, *fmnist_split('test'))
    pix, preds, groups = predict(X, unet, so, clf, sc, a.min_votes); best = 'refined' if sc['regress'] else 'crop_plus_vote'
    colors = class_colors(11); fig = new_figure('double', 6.2); axes = fig.subplots(4, n, squeeze=False)
    rows = [('image, crops', X), ('truth', M), ('U-Net alone', pix), ('found, then named', preds[best])]
    for j in range(n):
        for k, (label, arr) in enumerate(rows):
            ax = axes[k, j]; ax.imshow(arr[j] if k == 0 else class_image(arr[j], colors), cmap='gray', interpolation='nearest'); ax.set_xticks([]); ax.set_yticks([])
            if j == 0: ax.set_ylabel(label, fontsize=FONT['label'])
            if k > 1: ax.set_title(f"mIoU {seg_metrics(seg_confusion(arr[j:j + 1], M[j:j + 1], 11))['miou']:.2f}", fontsize=FONT['note'], pad=2)
        for g, (i, r, c, _) in enumerate(x for x in groups if x[0] == j):
            axes[0, j].add_patch(Rectangle((c - 0.5, r - 0.5), 28, 28, fill=False, lw=0.8, ec=PALETTE[g % len(PALETTE)]))
    class_legend(fig, SEG_CLASSES, colors)
    save_figure(fig, Path(out).with_suffix(''))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('arm', choices=['offsets', 'classifier', 'combine', 'diagnose', 'figure'])
    ap.add_argument('--epochs', type=int, default=8); ap.add_argument('--n_train', type=int, default=6000, help='mosaics per epoch (offsets)')
    ap.add_argument('--off_weight', type=float, default=1.0, help='weight of the offset L1 loss (offsets)')
    ap.add_argument('--n_crops_mosaics', type=int, default=20000, help='fresh mosaics per epoch whose items are cropped (classifier)')
    ap.add_argument('--jitter', type=int, default=2, help='crop shift, px (classifier)')
    ap.add_argument('--jitter_sd', type=float, default=0, help='crop shifts drawn normal with this std (px), clipped at --jitter; 0: uniform (classifier)')
    ap.add_argument('--regress', action='store_true', help='the classifier also regresses the crop\'s shift from the item\'s frame; combine re-crops there (classifier)')
    ap.add_argument('--widths', type=int, nargs=3, default=[64, 128, 256], help='airnet widths (classifier)')
    ap.add_argument('--min_votes', type=float, default=5, help='smallest smoothed vote mass of a peak (combine)')
    ap.add_argument('--out', default=''); a = ap.parse_args()
    a.out = a.out or ('paper/bench/seg_items_examples.png' if a.arm == 'figure' else 'paper/bench/seg_items_{arm}.csv')
    torch.set_num_threads(int(__import__('os').environ.get('OMP_NUM_THREADS', 1))); torch.manual_seed(0)
    out = Path(a.out.format(arm=a.arm)); out.parent.mkdir(parents=True, exist_ok=True)
    dict(offsets=offsets_arm, classifier=classifier_arm, combine=combine_arm, diagnose=diagnose_arm, figure=figure_arm)[a.arm](a, out); print('wrote', out)


if __name__ == '__main__':
    main()
