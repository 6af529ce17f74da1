"""Every registered loss against values worked out by hand; class weights come from the training fold only."""
import math
import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from visionlab.config import Recipe
from visionlab.losses import (LOSSES, get_loss, is_better, class_counts, class_balanced_weights, inverse_freq_weights,
                              log_prior, ldam_margins)

e, log = math.exp, math.log
# 3 samples, 3 classes: logits Z, targets Y = 0, 1, 2; training-fold counts 100, 10, 1 (N = 111)
Z = torch.tensor([[2., 0., 0.], [0., 1., 0.], [0., 0., 0.]])
Y = torch.tensor([0, 1, 2])
COUNTS = np.array([100, 10, 1])

# per-sample cross-entropy -log softmax(z)_y, by hand
CE0 = -log(e(2) / (e(2) + 2))   # (2,0,0), y=0
CE1 = -log(e(1) / (e(1) + 2))   # (0,1,0), y=1
CE2 = -log(1 / 3)               # (0,0,0), y=2
# their p_t = exp(-CE)
P0, P1, P2 = e(2) / (e(2) + 2), e(1) / (e(1) + 2), 1 / 3
# label smoothing eps = 0.1: (1 - eps) * CE_y + eps * mean_c(-log p_c)
L0, L1 = log(e(2) + 2), log(e(1) + 2)  # log-sum-exp of samples 0 and 1; -log p_c = lse - z_c
S0 = 0.9 * (L0 - 2) + 0.1 * ((L0 - 2) + L0 + L0) / 3
S1 = 0.9 * (L1 - 1) + 0.1 * (L1 + (L1 - 1) + L1) / 3
S2 = log(3)                            # uniform softmax: every -log p_c = log 3
# class-balanced weights, beta = 0.9: (1 - beta) / (1 - beta^n_c), normalised to sum to 3
_cb = [0.1 / (1 - 0.9 ** 100), 0.1 / (1 - 0.9 ** 10), 0.1 / (1 - 0.9 ** 1)]
CB = [3 * v / sum(_cb) for v in _cb]


def value(name, **recipe):
    "The registered loss `name` built from a recipe and COUNTS, on Z, Y."
    return get_loss(Recipe(loss=name, **recipe), COUNTS)(Z, Y).item()


def approx(x): return pytest.approx(x, rel=1e-5)


# --- weight helpers -------------------------------------------------------------------------------------

def test_class_balanced_weights_by_hand():
    assert class_balanced_weights(COUNTS, 0.9) == pytest.approx(CB)
    assert sum(CB) == pytest.approx(3) and CB[0] < CB[1] < CB[2]
    assert class_balanced_weights(COUNTS, 0.0) == pytest.approx([1, 1, 1])  # beta = 0: no re-weighting
    with pytest.raises(ValueError, match='cb_beta'): class_balanced_weights(COUNTS, 1.0)


def test_inverse_freq_weights_by_hand():
    assert inverse_freq_weights(COUNTS, 1.0) == pytest.approx([3 * .01 / 1.11, 3 * .1 / 1.11, 3 * 1 / 1.11])
    s = 1 / 10 + 1 / math.sqrt(10) + 1  # n^-0.5 = 1/10, 1/sqrt(10), 1
    assert inverse_freq_weights(COUNTS, 0.5) == pytest.approx([3 * .1 / s, 3 / math.sqrt(10) / s, 3 / s])


def test_log_prior_and_margins_by_hand():
    assert log_prior(COUNTS) == pytest.approx([log(100 / 111), log(10 / 111), log(1 / 111)])
    assert ldam_margins(COUNTS, 0.5) == pytest.approx([0.5 / 100 ** .25, 0.5 / 10 ** .25, 0.5])


def test_empty_class_counts_as_one_image():
    c = [100, 0, 1]
    assert class_balanced_weights(c, .9) == pytest.approx(class_balanced_weights([100, 1, 1], .9))
    assert inverse_freq_weights(c, 1.) == pytest.approx(inverse_freq_weights([100, 1, 1], 1.))
    assert log_prior(c) == pytest.approx([log(100 / 102), log(1 / 102), log(1 / 102)])
    assert np.isfinite(ldam_margins(c)).all()


# --- every registered loss, by hand ---------------------------------------------------------------------

def test_ce():
    assert value('ce') == approx((CE0 + CE1 + CE2) / 3)
    assert value('ce', label_smoothing=0.1) == approx((S0 + S1 + S2) / 3)


def test_focal():
    # (1 - p_t)^2 * CE, p_t from the unsmoothed CE; the CE factor smoothed when label_smoothing > 0
    assert value('focal', focal_gamma=2.0) == approx(((1 - P0) ** 2 * CE0 + (1 - P1) ** 2 * CE1 + (1 - P2) ** 2 * CE2) / 3)
    assert value('focal', focal_gamma=2.0, label_smoothing=0.1) == approx(
        ((1 - P0) ** 2 * S0 + (1 - P1) ** 2 * S1 + (1 - P2) ** 2 * S2) / 3)
    assert value('focal', focal_gamma=0.0) == approx((CE0 + CE1 + CE2) / 3)


def test_cb_ce_and_cb_focal():
    # plain batch mean of w_y * l (not sum(w l) / sum(w))
    assert value('cb_ce', cb_beta=0.9) == approx((CB[0] * CE0 + CB[1] * CE1 + CB[2] * CE2) / 3)
    assert value('cb_focal', cb_beta=0.9, focal_gamma=2.0) == approx(
        (CB[0] * (1 - P0) ** 2 * CE0 + CB[1] * (1 - P1) ** 2 * CE1 + CB[2] * (1 - P2) ** 2 * CE2) / 3)
    assert value('cb_ce', cb_beta=0.9, label_smoothing=0.1) == approx((CB[0] * S0 + CB[1] * S1 + CB[2] * S2) / 3)


def test_weighted_ce():
    w = [3 * .01 / 1.11, 3 * .1 / 1.11, 3 / 1.11]  # n^-1 = 1/100, 1/10, 1 normalised to sum to 3
    assert value('weighted_ce', weight_power=1.0) == approx((w[0] * CE0 + w[1] * CE1 + w[2] * CE2) / 3)
    s = .1 + 1 / math.sqrt(10) + 1
    w = [3 * .1 / s, 3 / math.sqrt(10) / s, 3 / s]  # n^-0.5
    assert value('weighted_ce', weight_power=0.5) == approx((w[0] * CE0 + w[1] * CE1 + w[2] * CE2) / 3)


# logits + log n_c (the 1/N of the prior cancels in the softmax): z_c + log n_c -> weights n_c * exp(z_c)
BAL = (-log(100 * e(2) / (100 * e(2) + 10 + 1))      # (2,0,0) + log(100,10,1), y=0
       - log(10 * e(1) / (100 + 10 * e(1) + 1))      # (0,1,0) + log(100,10,1), y=1
       - log(1 / (100 + 10 + 1))) / 3                # (0,0,0) + log(100,10,1), y=2


def test_la():
    assert value('la', la_tau=1.0) == approx(BAL)
    r = math.sqrt(10)  # tau = 0.5: weights n_c^0.5 = 10, sqrt(10), 1
    assert value('la', la_tau=0.5) == approx((-log(10 * e(2) / (10 * e(2) + r + 1))
                                              - log(r * e(1) / (10 + r * e(1) + 1))
                                              - log(1 / (10 + r + 1))) / 3)
    assert value('la', la_tau=0.0) == approx((CE0 + CE1 + CE2) / 3)


def test_balanced_softmax_equals_la_tau_1():
    assert value('balanced_softmax') == approx(BAL)
    assert value('balanced_softmax', label_smoothing=0.1) == approx(value('la', la_tau=1.0, label_smoothing=0.1))


# LDAM with max margin 0.5, scale 2: m = 0.5 * n^-1/4 / max = 0.5/100^.25, 0.5/10^.25, 0.5
M0, M1, M2 = 0.5 / 100 ** .25, 0.5 / 10 ** .25, 0.5
LD0 = -log(e(2 * (2 - M0)) / (e(2 * (2 - M0)) + 2))   # 2 * (2 - m0, 0, 0), y=0
LD1 = -log(e(2 * (1 - M1)) / (e(2 * (1 - M1)) + 2))   # 2 * (0, 1 - m1, 0), y=1
LD2 = -log(e(-2 * M2) / (e(-2 * M2) + 2))             # 2 * (0, 0, -m2), y=2


def test_ldam():
    assert value('ldam', ldam_max_margin=0.5, ldam_scale=2.0) == approx((LD0 + LD1 + LD2) / 3)


def test_reweight_drw():
    "DRW: reweight(w) switches the class weights on, reweight(None) off (cb losses and LDAM)."
    cb = get_loss(Recipe(loss='cb_ce', cb_beta=0.9), COUNTS)
    assert cb(Z, Y).item() == approx((CB[0] * CE0 + CB[1] * CE1 + CB[2] * CE2) / 3)
    assert cb.reweight(None)(Z, Y).item() == approx((CE0 + CE1 + CE2) / 3)
    assert cb.reweight(np.array([1., 2., 3.]))(Z, Y).item() == approx((1 * CE0 + 2 * CE1 + 3 * CE2) / 3)
    cbf = get_loss(Recipe(loss='cb_focal', cb_beta=0.9, focal_gamma=2.0), COUNTS).reweight(None)
    assert cbf(Z, Y).item() == approx(value('focal', focal_gamma=2.0))
    ld = get_loss(Recipe(loss='ldam', ldam_max_margin=0.5, ldam_scale=2.0), COUNTS)
    assert ld(Z, Y).item() == approx((LD0 + LD1 + LD2) / 3)             # LDAM starts unweighted
    drw = class_balanced_weights(COUNTS, 0.9)
    assert ld.reweight(drw)(Z, Y).item() == approx((CB[0] * LD0 + CB[1] * LD1 + CB[2] * LD2) / 3)  # LDAM-DRW
    assert ld.reweight(torch.tensor(drw)).weight.dtype == torch.float32
    assert ld.reweight(None)(Z, Y).item() == approx((LD0 + LD1 + LD2) / 3)
    with pytest.raises(ValueError, match='2 class weights for 3 classes'): ld.reweight([1., 2.])(Z, Y)


def test_get_loss_unknown_name():
    with pytest.raises(ValueError, match="unknown loss 'hinge'.*ce.*ldam"): get_loss(Recipe(loss='hinge'), COUNTS)


def test_registry_names():
    assert set(LOSSES) >= {'ce', 'focal', 'cb_ce', 'cb_focal', 'weighted_ce', 'la', 'balanced_softmax', 'ldam'}


def test_is_better_min_delta():
    assert is_better('acc', .81, .8) and not is_better('acc', .805, .8, min_delta=.01)
    assert is_better('nll', .78, .8, min_delta=.01) and not is_better('nll', .795, .8, min_delta=.01)
    assert is_better('acc', .1, None, min_delta=.5)


# --- class statistics come from the training fold only ------------------------------------------------

def _long_tailed_digits():
    "sklearn digits labels made long-tailed (about 178 * 0.6^c images of class c), and a stratified train/valid split."
    y = load_digits().target
    keep = np.concatenate([np.flatnonzero(y == c)[:max(3, round(178 * 0.6 ** c))] for c in range(10)])
    labels = y[keep].copy()
    tr, va = train_test_split(np.arange(len(labels)), test_size=0.3, stratify=labels, random_state=0)
    return labels, tr, va


def _fold_loss(name, labels, train_idx):
    "The loss of one fit, as the training loop builds it: counts of the training fold's labels only."
    counts = class_counts(labels[train_idx], 10)
    assert (counts == np.bincount(labels[train_idx], minlength=10)).all()
    return get_loss(Recipe(loss=name, cb_beta=0.99), counts)


def _stats(loss): return {k: v.clone() for k, v in loss.named_buffers()}


@pytest.mark.parametrize('name', ['cb_ce', 'cb_focal', 'weighted_ce', 'la', 'balanced_softmax', 'ldam'])
def test_class_statistics_from_train_fold_only(name):
    labels, tr, va = _long_tailed_digits()
    assert np.bincount(labels)[0] > 10 * np.bincount(labels)[9]  # really long-tailed
    base = _stats(_fold_loss(name, labels, tr)); assert base
    changed = labels.copy(); changed[va] = 9 - changed[va]            # every validation label changed
    same = _stats(_fold_loss(name, changed, tr))
    assert base.keys() == same.keys() and all(torch.equal(base[k], same[k]) for k in base)
    changed = labels.copy(); i = tr[np.flatnonzero(labels[tr] == 0)[0]]; changed[i] = 9  # one training label changed
    other = _stats(_fold_loss(name, changed, tr))
    assert any(not torch.equal(base[k], other[k]) for k in base)


def test_drw_weights_from_train_fold_only():
    labels, tr, va = _long_tailed_digits()
    w = class_balanced_weights(class_counts(labels[tr], 10), 0.9999)
    changed = labels.copy(); changed[va] = 0
    assert np.array_equal(w, class_balanced_weights(class_counts(changed[tr], 10), 0.9999))
    changed = labels.copy(); changed[tr[0]] = (labels[tr[0]] + 1) % 10
    assert not np.array_equal(w, class_balanced_weights(class_counts(changed[tr], 10), 0.9999))


# --- every registered loss: finite value and gradient, with a class missing from the fold -----------------

@pytest.mark.parametrize('name', sorted(LOSSES))
@pytest.mark.parametrize('weights', [None, 'cb'])
def test_finite_with_missing_class(name, weights):
    g = torch.Generator().manual_seed(0)
    counts = np.array([40, 0, 5, 1])                          # class 1 has no image in this fold
    loss = get_loss(Recipe(loss=name, label_smoothing=0.1), counts)
    if weights: loss.reweight(class_balanced_weights(counts, 0.9999))
    z = (10 * torch.randn(32, 4, generator=g)).requires_grad_()
    y = torch.arange(32) % 4                                  # the missing class appears among the targets
    v = loss(z, y); v.backward()
    assert v.ndim == 0 and torch.isfinite(v) and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
