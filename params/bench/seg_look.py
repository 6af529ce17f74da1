"""What holds the fmnist_seg U-Net back? Item pretraining, a full-resolution head, fresh mosaics, the loss, a plain
U-Net, resolution, overlap, and naming the items.

Why this exists (issue 26, item 2): the committed fmnist_seg study (an smp U-Net on the ImageNet EfficientNet-Lite0
encoder) ended at 0.622 test mIoU, far from the 0.80 asked, and its confusion looks like a weak classifier's (Shirt
taken for Coat or T-shirt/top). Each training arm trains one model on one thread with the study's model and recipe
(class-weighted Dice + Focal, AdamW lr 2e-3 with half an epoch of warmup then cosine, gradient clipping 1.0, joint
flips, batch 32) but in a loop of its own, not `fit_segmenter` (fresh mosaics each epoch and a score per epoch on two
sets need it): flips are drawn per batch rather than per image, inputs are standardised by the training mosaics' own
mean and std, every epoch runs (no early stopping) and there is no TTA; so its numbers compare the arms with each other,
not with the study's. It trains on the first N training mosaics (`visionlab.segment.fmnist_mosaics`, seed 0) and
scores the mIoU of the next 300 mosaics after every epoch, and as `test_miou` that of 300 mosaics of the official test
split, whose items no training mosaic holds (added after the first runs of the baseline, pretrain and fullres arms;
each ran again with it, and every other number came out identical).

    baseline   the study's U-Net and recipe
    pretrain   first PRE epochs training the encoder (global average pool + a linear head, label smoothing 0.1,
               cosine) to classify the Fashion-MNIST items the training mosaics are made of, each pasted at a random
               offset on a 32x32 canvas the way the mosaics paste them (pixels <= 40 left out)
    fullres    a head at the input's resolution: smp's U-Net has no skip there (its finest is at stride 2), so this
               head takes the decoder's last map and the image itself (two 3x3 conv-BN-ReLU of 16 channels, a 1x1)
    --fresh    (baseline, fullres, plain) every epoch after the first trains on 6,000 new mosaics (seed 1000 + epoch,
               items from the same training split): the limit of the study file's "more mosaics beat more epochs"
    --pre_all  (pretrain) the items are all 60,000 of the training split, not only those of the training mosaics
    plain      nnU-Net's own kind of U-Net instead, slim and from scratch: two 3x3 conv-BN-ReLU a stage, 16 channels
               at full resolution doubling to 256 at stride 16, max-pool down, transposed convolution up (no
               pretrained weights)
    --loss ce  class-weighted Dice + cross-entropy (nnU-Net's loss; the Focal term with gamma 0) instead of Dice + Focal
    --scale K  (not pretrain) the model sees the mosaics upsampled K times (bilinear) and its logits are average-pooled
               back to 64x64: 28 px items are small for an ImageNet encoder of stride 32
    ceiling    no training: the held-out masks themselves kept at stride 2 and 4 (every 2nd / 4th pixel) and upsampled
               back (nearest), what an exact class map at that resolution would score (a decoder can draw finer edges
               where the image shows them: fmnist_seg's background IoU is 0.994)
    occlusion  no training: how much of each held-out item stays visible (the mosaics rebuilt item by item from
               `fmnist_mosaics`' own random draws, checked equal to its images)
    ambiguity  no training: the mIoU on the held-out mosaics of an imagined model that draws every item's visible shape
               exactly and names each item's class right with probability p (else one of the nine others, drawn
               uniformly), giving each pixel where two or more items are on (above 40) either to a random one of them
               or to the one on top; 20 draws pooled for each p

Run here, the training arms two at a time, one per core:

    OMP_NUM_THREADS=1 python params/bench/seg_look.py pretrain --pre 2 --seg 5 &
    OMP_NUM_THREADS=1 python params/bench/seg_look.py baseline --seg 6; wait
    OMP_NUM_THREADS=1 python params/bench/seg_look.py fullres --seg 6
    OMP_NUM_THREADS=1 python params/bench/seg_look.py baseline --fresh --seg 6 &
    OMP_NUM_THREADS=1 python params/bench/seg_look.py baseline --seg 6; wait     # again, with test_miou
    OMP_NUM_THREADS=1 python params/bench/seg_look.py pretrain --pre 2 --seg 5 &  # again, with test_miou
    OMP_NUM_THREADS=1 python params/bench/seg_look.py fullres --seg 6; wait      # again, with test_miou
    python params/bench/seg_look.py ceiling
    python params/bench/seg_look.py occlusion
    OMP_NUM_THREADS=1 python params/bench/seg_look.py plain --seg 6 &
    OMP_NUM_THREADS=1 python params/bench/seg_look.py baseline --loss ce --seg 6; wait
    (OMP_NUM_THREADS=1 python params/bench/seg_look.py baseline --seg 6     # again, with item_acc etc.
     OMP_NUM_THREADS=1 python params/bench/seg_look.py pretrain --pre_all --pre 1 --seg 5) &
    OMP_NUM_THREADS=1 python params/bench/seg_look.py baseline --loss ce --fresh --seg 14; wait
    python params/bench/seg_look.py ambiguity
    OMP_NUM_THREADS=1 python params/bench/seg_look.py baseline --scale 2 --loss ce --seg 3 &
    OMP_NUM_THREADS=1 python params/bench/seg_look.py plain --loss ce --fresh --seg 14; wait
    python params/bench/seg_look.py figure        # paper/bench/seg_look_bound.{png,pdf} from the CSVs

Each writes paper/bench/seg_look_<arm>.csv (then _all with --pre_all, _fresh with --fresh, _ce with --loss ce, _x<K>
with --scale): the training arms one row per epoch (phase, epoch, seconds since the arm started, the pretraining
phase's training accuracy or the segmentation phase's mIoU and IoU per class; the runs after plain's and the first ce
one's also the held-out items' accuracy, each item named by the most frequent non-background label on its visible
pixels, and the pixel accuracy where one item is on and where two or more are); ceiling one row per stride; occlusion
one row (items, mean and median visible fraction, the share of items under 25/50/75/99% visible, the share of the
visible item pixels that belong to items under half visible); ambiguity one row per p and way of giving out the
contested pixels. The figure arm draws paper/bench/seg_look_bound.{png,pdf}: the ambiguity arm's mIoU against p, and
every training arm that measured item accuracy, one point an epoch.
"""
import argparse, time
from pathlib import Path
import numpy as np, pandas as pd, torch, torch.nn as nn, torch.nn.functional as F
from visionlab.segment import SEG_CLASSES, fmnist_mosaics, seg_class_weights, seg_loss, seg_confusion, seg_metrics, seg_model
from visionlab.config import Recipe, from_dict
from visionlab.train import make_optimizer, make_scheduler
from seg_items import fmnist_split, mosaics_with_items   # a sibling script: python puts this folder first on the path


def fmnist_train():
    "The official Fashion-MNIST training split (images, labels) that `fmnist_mosaics('train')` draws its items from."
    return fmnist_split('train')


def item_batches(IX, IY, mean, std, bs, canvas, g):
    "Batches of items IX (N,1,28,28, in [0, 1], pixels <= 40 zeroed), labels IY, each pasted at a random offset on a canvas x canvas field, random flips."
    perm = torch.randperm(len(IX), generator=g)
    for b in range(len(IX) // bs):
        i = perm[b * bs:(b + 1) * bs]; x = torch.zeros(len(i), 1, canvas, canvas); o = torch.randint(0, canvas - 28 + 1, (2,), generator=g)
        x[:, :, o[0]:o[0] + 28, o[1]:o[1] + 28] = IX[i]
        if torch.rand(1, generator=g) < 0.5: x = x.flip(-1)
        if torch.rand(1, generator=g) < 0.5: x = x.flip(-2)
        yield (x - mean) / std, IY[i]


class PlainUNet(nn.Module):
    "nnU-Net's plain U-Net, slim: two 3x3 conv-BN-ReLU a stage, the first at full resolution, max-pool down, transposed conv up."
    def __init__(self, widths=(16, 32, 64, 128, 256), in_chans=1, classes=11):
        super().__init__(); cbr = lambda i, o: [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]
        self.enc = nn.ModuleList(nn.Sequential(*([nn.MaxPool2d(2)] if k else []), *cbr(i, o), *cbr(o, o))
                                 for k, (i, o) in enumerate(zip((in_chans,) + widths[:-1], widths)))
        self.up = nn.ModuleList(nn.ConvTranspose2d(widths[k], widths[k - 1], 2, 2) for k in range(len(widths) - 1, 0, -1))
        self.dec = nn.ModuleList(nn.Sequential(*cbr(2 * widths[k - 1], widths[k - 1]), *cbr(widths[k - 1], widths[k - 1])) for k in range(len(widths) - 1, 0, -1))
        self.head = nn.Conv2d(widths[0], classes, 1)
    def forward(self, x):
        f = []
        for e in self.enc: x = e(x); f.append(x)
        for up, dec, skip in zip(self.up, self.dec, f[-2::-1]): x = dec(torch.cat([up(x), skip], 1))
        return self.head(x)


class Scaled(nn.Module):
    "`model` run on the input upsampled k times (bilinear), its logits average-pooled back to the input's size."
    def __init__(self, model, k=2): super().__init__(); self.model, self.k = model, k
    def forward(self, x): return F.avg_pool2d(self.model(F.interpolate(x, scale_factor=self.k, mode='bilinear', align_corners=False)), self.k)


class FullRes(nn.Module):
    "An smp U-Net whose head also sees the input image at full resolution."
    def __init__(self, unet, in_chans=1, classes=11, w=16):
        super().__init__(); self.unet = unet; c = unet.segmentation_head[0].in_channels
        cbr = lambda i, o: [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]
        self.head = nn.Sequential(*cbr(c + in_chans, w), *cbr(w, w), nn.Conv2d(w, classes, 1))
    def forward(self, x): return self.head(torch.cat([self.unet.decoder(self.unet.encoder(x)), x], 1))


def item_layers(n, X, S, seed=0):
    "Mosaics n.. of `fmnist_mosaics('train', len(X), seed=seed)` item by item: per mosaic an array (k,64,64), layer j the class of its j-th pasted item where that item's pixel is above 40, else -1."
    FX, FY = fmnist_train(); Xr, _, _, B = mosaics_with_items('train', len(X), seed, FX, FY)   # fmnist_mosaics' draws, replayed
    assert (Xr == X).all() and all((b[:, 3] == s).all() for b, s in zip(B, S)), 'mosaics rebuilt differently'
    out = []
    for b in B[n:]:
        lay = np.full((len(b), 64, 64), -1)
        for j, (r, c, y, item) in enumerate(b): on = FX[item] > 40; lay[j, r:r + 28, c:c + 28][on] = y
        out.append(lay)
    return out


def coverage(layers):
    "How many items are on (above 40) at each pixel of each mosaic: (n,64,64)."
    return np.stack([(l >= 0).sum(0) for l in layers])


def owner(lay):
    "Which item (layer index) each pixel shows: the last pasted one that is on there; -1 for background."
    on = lay >= 0; last = len(lay) - 1 - on[::-1].argmax(0)
    return np.where(on.any(0), last, -1)


def item_accuracy(pred, layers):
    "Share of the visible items whose visible pixels' most frequent predicted label (background left out) is their class + 1."
    hit = []
    for p, lay in zip(pred, layers):
        own = owner(lay)
        for j in range(len(lay)):
            v = p[own == j]; v = v[v > 0]
            if (own == j).any(): hit.append(len(v) > 0 and np.bincount(v).argmax() == lay[j].max() + 1)
    return float(np.mean(hit))


def ambiguity(layers, M, acc, resolve, draws=20, seed=0):
    "mIoU (confusion pooled over `draws` random draws) of a model that draws every item's visible shape exactly, names its class right with probability `acc` (else a uniformly drawn wrong class), and gives each pixel where two or more items are on to a random one of them (`resolve='random'`) or to the one on top (`'owner'`)."
    rng, P = np.random.default_rng(seed), []
    for lay in layers * draws:
        y = lay.max((1, 2)); wrong = rng.random(len(y)) >= acc
        y = np.where(wrong, (y + rng.integers(1, 10, len(y))) % 10, y)   # a wrong class, each of the other nine equally likely
        on = lay >= 0
        pick = owner(lay) if resolve == 'owner' else np.where(on, rng.random(lay.shape), -1).argmax(0)
        P.append(np.where(on.any(0), y[pick] + 1, 0))
    return seg_metrics(seg_confusion(np.stack(P), np.concatenate([M] * draws), 11), SEG_CLASSES)


ARM_NAMES = dict(baseline='Lite0 U-Net, Dice + Focal', baseline_ce='Lite0 U-Net, Dice + CE', baseline_fresh='Lite0 U-Net, fresh mosaics',
                 baseline_fresh_ce='Lite0 U-Net, Dice + CE, fresh mosaics', pretrain_all='Lite0 U-Net, encoder first taught the 60,000 items',
                 baseline_ce_x2='Lite0 U-Net, Dice + CE, mosaics at 2x', plain_fresh_ce="nnU-Net's plain U-Net, Dice + CE, fresh mosaics")


def bound_figure(folder):
    "Held-out mIoU against item accuracy: the ambiguity arm's two lines and every training arm that measured its items, one point an epoch."
    from visionlab.style import new_figure, save_figure, style_axes, line_style, FONT
    fig = new_figure('single', 3.6); ax = fig.subplots(); amb = pd.read_csv(Path(folder)/'seg_look_ambiguity.csv'); i = 0
    for (resolve, label) in (('owner', 'exact shapes, overlaps to the top item'), ('random', 'exact shapes, overlaps at random')):
        d = amb[amb.contested == resolve]; ax.plot(d.item_acc, d.miou, label=label, ms=3, **{**line_style(i), 'color': 'grey'}); i += 1
    for f in sorted(Path(folder).glob('seg_look_*.csv')):
        d = pd.read_csv(f)
        if 'epoch' not in d or 'item_acc' not in d or d.item_acc.isna().all(): continue
        d = d.dropna(subset=['item_acc']); ax.plot(d.item_acc, d.miou, label=f'{ARM_NAMES.get(d.arm.iloc[0], d.arm.iloc[0])}, {len(d)} epochs', ms=3, **line_style(i)); i += 1
    ax.axhline(0.80, color='black', lw=0.6, ls=':'); ax.text(0.35, 0.805, 'asked: 0.80', fontsize=FONT['note'], va='bottom')
    style_axes(ax, 'item accuracy (held-out items)', 'held-out mIoU'); ax.set_xlim(0.33, 1.01); ax.set_ylim(0.25, 1.01)
    fig.legend(fontsize=FONT['legend'], loc='outside lower center', frameon=False)
    return save_figure(fig, Path(folder)/'seg_look_bound')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('arm', choices=['pretrain', 'baseline', 'fullres', 'plain', 'ceiling', 'ambiguity', 'occlusion', 'figure']); ap.add_argument('--pre', type=int, default=2, help='pretraining epochs (arm pretrain)')
    ap.add_argument('--seg', type=int, default=6, help='segmentation epochs'); ap.add_argument('--n_train', type=int, default=6000)
    ap.add_argument('--fresh', action='store_true', help='new training mosaics every epoch (baseline, fullres, plain)')
    ap.add_argument('--pre_all', action='store_true', help='pretrain on all 60,000 items of the training split, not only those of the training mosaics')
    ap.add_argument('--scale', type=int, default=1, help='run the model on the mosaics upsampled this many times (bilinear), logits pooled back')
    ap.add_argument('--loss', choices=['focal', 'ce'], default='focal', help="Dice + Focal (the study's) or Dice + cross-entropy (nnU-Net's)")
    ap.add_argument('--out', default='paper/bench/seg_look_{arm}.csv'); a = ap.parse_args()
    if a.fresh and a.arm not in ('baseline', 'fullres', 'plain'): ap.error('--fresh goes with arm baseline, fullres or plain')
    if a.pre_all and a.arm != 'pretrain': ap.error('--pre_all goes with arm pretrain')
    if a.scale > 1 and a.arm == 'pretrain': ap.error('--scale does not go with arm pretrain')
    if a.arm == 'figure': return print('wrote', *bound_figure(Path(a.out).parent))
    torch.set_num_threads(1); torch.manual_seed(0); tag = a.arm + '_all' * a.pre_all + '_fresh' * a.fresh + '_ce' * (a.loss == 'ce') + f'_x{a.scale}' * (a.scale > 1)
    X, M, S = fmnist_mosaics('train', a.n_train + 300, seed=0); n = a.n_train
    Xt, Mt = torch.tensor(X[:n]).float()[:, None] / 255, torch.tensor(M[:n]).long()
    Xv, Mv = torch.tensor(X[n:]).float()[:, None] / 255, M[n:]
    if a.arm == 'ceiling':
        rows = []
        for k in (2, 4):
            s = seg_metrics(seg_confusion(Mv[:, ::k, ::k].repeat(k, 1).repeat(k, 2), Mv, 11), SEG_CLASSES)
            rows.append(dict(arm=a.arm, stride=k, miou=round(s['miou'], 4), **{f'iou_{c}': round(v, 4) for c, v in s['iou'].items()})); print(rows[-1])
        return pd.DataFrame(rows).to_csv(a.out.format(arm=a.arm), index=False)
    if a.arm == 'ambiguity':
        L = item_layers(n, X, S); on = coverage(L)
        rows = [dict(arm=a.arm, item_acc=acc, contested=resolve, contested_share=round(float((on > 1).sum() / (on > 0).sum()), 4), miou=round(m['miou'], 4),
                     **{f'iou_{c}': round(v, 4) for c, v in m['iou'].items()})
                for resolve in ('random', 'owner') for acc in (1.0, 0.96, 0.95, 0.94, 0.92, 0.9, 0.8, 0.7, 0.6, 0.5) for m in [ambiguity(L, Mv, acc, resolve)]]
        for r in rows: print({k: r[k] for k in ('item_acc', 'contested', 'contested_share', 'miou')})
        return pd.DataFrame(rows).to_csv(a.out.format(arm=a.arm), index=False)
    if a.arm == 'occlusion':
        d = pd.DataFrame([dict(pixels=(l >= 0).sum((1, 2)), visible=np.bincount(owner(l).ravel() + 1, minlength=len(l) + 1)[1:]) for l in item_layers(n, X, S)]).explode(['pixels', 'visible']).astype(int)
        f = d.visible / d.pixels
        row = dict(arm=a.arm, items=len(d), visible_mean=round(float(f.mean()), 4), visible_median=round(float(f.median()), 4),
                   **{f'items_under_{int(100 * t)}pct': round(float((f < t).mean()), 4) for t in (0.25, 0.5, 0.75, 0.99)},
                   pixel_share_under_50pct=round(float(d.visible[f < 0.5].sum() / d.visible.sum()), 4))
        print(row); pd.DataFrame([row]).to_csv(a.out.format(arm=a.arm), index=False); return
    XT, MT, _ = fmnist_mosaics('test', 300, seed=0); XT = torch.tensor(XT).float()[:, None] / 255
    mean, std = Xt.mean(), Xt.std(); Xt, Xv, XT = (Xt - mean) / std, (Xv - mean) / std, (XT - mean) / std
    model = PlainUNet() if a.arm == 'plain' else seg_model('tu-efficientnet_lite0', 11, 1, 'unet', 'imagenet')
    model = (FullRes(model) if a.arm == 'fullres' else model).to(memory_format=torch.channels_last)
    if a.scale > 1: model = Scaled(model, a.scale)
    L = item_layers(n, X, S); on = coverage(L)   # the held-out items, and how many are on at each pixel (before the clock)
    rows, t0 = [], time.time()
    if a.arm == 'pretrain':
        FX, FY = fmnist_train(); items = np.arange(len(FX)) if a.pre_all else np.unique(np.concatenate(S[:n]))
        IX = torch.tensor(np.where(FX[items] > 40, FX[items], 0)).float()[:, None] / 255; IY = torch.tensor(FY[items]).long()
        enc = model.encoder; head = nn.Linear(enc.out_channels[-1], 10); net = nn.ModuleList([enc, head])
        bs = 64; g = torch.Generator().manual_seed(1)
        r = from_dict(Recipe, dict(epochs=a.pre, lr=2e-3, weight_decay=1e-4, schedule='cosine', warmup_epochs=0.3, batch_size=bs))
        opt = make_optimizer(net, r); sched = make_scheduler(opt, r, len(items) // bs)
        for e in range(a.pre):
            net.train(); acc = []
            for x, y in item_batches(IX, IY, mean, std, bs, 32, g):
                out = head(enc(x)[-1].mean((2, 3))); loss = F.cross_entropy(out, y, label_smoothing=0.1)
                opt.zero_grad(); loss.backward(); nn.utils.clip_grad_norm_(net.parameters(), 1.0); opt.step(); sched.step()
                acc.append((out.argmax(1) == y).float().mean().item())
            rows.append(dict(arm=a.arm, phase='pretrain', epoch=e + 1, seconds=round(time.time() - t0), items=len(items), train_acc=round(float(np.mean(acc)), 4)))
            print(rows[-1], flush=True)
    bs = 32; r = from_dict(Recipe, dict(epochs=a.seg, lr=2e-3, weight_decay=1e-4, schedule='cosine', warmup_epochs=0.5, batch_size=bs))
    opt = make_optimizer(model, r); nb = n // bs; sched = make_scheduler(opt, r, nb)
    w = seg_class_weights(M[:n], 11); g = torch.Generator().manual_seed(0)
    for e in range(a.seg):
        if a.fresh and e > 0:
            Xe, Me, _ = fmnist_mosaics('train', n, seed=1000 + e)
            Xt, Mt = (torch.tensor(Xe).float()[:, None] / 255 - mean) / std, torch.tensor(Me).long()
        model.train(); perm = torch.randperm(n, generator=g)
        for b in range(nb):
            i = perm[b * bs:(b + 1) * bs]; x, m = Xt[i], Mt[i]
            if torch.rand(1, generator=g) < 0.5: x, m = x.flip(-1), m.flip(-1)
            if torch.rand(1, generator=g) < 0.5: x, m = x.flip(-2), m.flip(-2)
            loss = seg_loss(model(x), m, w, gamma=2.0 if a.loss == 'focal' else 0.0); opt.zero_grad(); loss.backward(); nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); sched.step()
        model.eval()
        with torch.no_grad(): pred, predT = (torch.cat([model(V[k:k + 256]).argmax(1) for k in range(0, len(V), 256)]).numpy() for V in (Xv, XT))
        s = seg_metrics(seg_confusion(pred, Mv, 11), SEG_CLASSES); t = seg_metrics(seg_confusion(predT, MT, 11))
        hit = pred == Mv
        rows.append(dict(arm=tag, phase='segment', epoch=e + 1, seconds=round(time.time() - t0), miou=round(s['miou'], 4),
                         test_miou=round(t['miou'], 4), item_acc=round(item_accuracy(pred, L), 4), acc_single=round(float(hit[on == 1].mean()), 4),
                         acc_contested=round(float(hit[on > 1].mean()), 4), **{f'iou_{k}': round(v, 4) for k, v in s['iou'].items()}))
        print({k: rows[-1][k] for k in ('arm', 'epoch', 'seconds', 'miou', 'test_miou', 'item_acc', 'acc_single', 'acc_contested')}, flush=True)
    out = Path(a.out.format(arm=tag)); out.parent.mkdir(parents=True, exist_ok=True); pd.DataFrame(rows).to_csv(out, index=False); print('wrote', out)


if __name__ == '__main__':
    main()
