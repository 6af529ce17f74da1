"""Baseline for the fit-loop benchmark: a bare hand-written PyTorch loop, no framework.

Same network as vlab's `cnn_small` (140,458 parameters), same recipe as params/fmnist_bench.yaml:
AdamW + one-cycle, pad-4 random crop + horizontal flip, label smoothing 0.1, 15 epochs on the full
Fashion-MNIST train split (60k), flip TTA on the 10k test split. Batch augmentation on tensors.

    python params/bench/bare_loop.py [--epochs 15] [--out paper/bench/bare_loop.json]
"""
import argparse, gzip, json, time
from pathlib import Path
import numpy as np, torch, torch.nn.functional as F
from visionlab.models import CnnSmall   # the architecture only; the loop below is plain PyTorch

FM = Path('/usr/share/datasets/fashion-mnist')


def idx(name, off): return np.frombuffer(gzip.open(FM/name).read(), np.uint8, offset=off)


def load(split):
    pre = 'train' if split == 'train' else 't10k'
    x = torch.tensor(idx(f'{pre}-images-idx3-ubyte.gz', 16).reshape(-1, 1, 28, 28).copy()).float().div(255).sub(0.5).div(0.5)
    return x, torch.tensor(idx(f'{pre}-labels-idx1-ubyte.gz', 8).astype(np.int64))


def augment(x, pad=4):
    "Per-sample random crop from a zero-padded (normalised background) image, and random horizontal flip."
    b, n = x.shape[0], x.shape[-1]
    p = F.pad(x, (pad,) * 4, value=-1.0)
    dy, dx = torch.randint(0, 2 * pad + 1, (2, b))
    r = (dy[:, None] + torch.arange(n))[:, :, None]; c = (dx[:, None] + torch.arange(n))[:, None, :]
    out = p[torch.arange(b)[:, None, None], 0, r, c][:, None]
    flip = torch.rand(b) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(-1), out)


def main(epochs=15, bs=256, lr=5e-3, wd=5e-4, ls=0.1, pct=0.3, seed=0, out='paper/bench/bare_loop.json'):
    torch.manual_seed(seed); torch.set_num_threads(2)
    (xtr, ytr), (xte, yte) = load('train'), load('test')
    model = CnnSmall(in_chans=1, num_classes=10)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
    steps = epochs * (len(xtr) // bs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=pct)
    t0, epoch_s = time.time(), []
    for ep in range(epochs):
        te = time.time(); model.train(); perm = torch.randperm(len(xtr))
        for i in range(len(xtr) // bs):
            j = perm[i * bs:(i + 1) * bs]
            loss = F.cross_entropy(model(augment(xtr[j])), ytr[j], label_smoothing=ls)
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); sched.step()
        epoch_s.append(time.time() - te); print(f'epoch {ep + 1}: loss {loss.item():.3f}  {epoch_s[-1]:.1f}s', flush=True)
    train_s = time.time() - t0; model.eval()
    with torch.no_grad():
        logits = torch.cat([model(xb) + model(xb.flip(-1)) for xb in xte.split(1000)])
    res = dict(test_acc=float((logits.argmax(1) == yte).float().mean()), train_seconds=train_s, total_seconds=time.time() - t0,
               img_per_s=epochs * (len(xtr) // bs) * bs / train_s, epochs=epochs, epoch_seconds=epoch_s,
               params=sum(p.numel() for p in model.parameters()), torch=torch.__version__, threads=torch.get_num_threads())
    Path(out).parent.mkdir(parents=True, exist_ok=True); Path(out).write_text(json.dumps(res, indent=2)); print(res)


if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--epochs', type=int, default=15); ap.add_argument('--out', default='paper/bench/bare_loop.json')
    a = ap.parse_args(); main(a.epochs, out=a.out)
