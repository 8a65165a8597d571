# Balance Divergence Distillation, pixel-wise (each pixel a softmax over the
# classes), temperatures 1, forward weight 1, reverse weight 0.3, loss weight
# 1: ours, BDD's best setting on DigitScapes val (docs/sweep_digitscapes.md),
# a small task where no method beats the student alone
# (docs/results_digitscapes.md); a starting point, not a Cityscapes-tuned
# setting. The default BDD config is deeplabv3_r101_to_r18_bdd.py. Teacher,
# student, data and schedule as in deeplabv3_r101_to_r18_kd.py.
_base_ = ['./deeplabv3_r101_to_r18_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_bdd=dict(
            type='BDDLoss',
            distribution='class',
            tau_forward=1.0,
            tau_reverse=1.0,
            forward_weight=1.0,
            reverse_weight=0.3,
            loss_weight=1.0)))
