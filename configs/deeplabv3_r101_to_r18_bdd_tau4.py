# Balance Divergence Distillation, channel-wise, temperatures 4, forward and
# reverse weight 1, loss weight 3: the CWD paper's setting for logits
# (tau 4, loss weight 3, as its released code runs it) plus a reverse term
# of the same weight and temperature. The public BDD code also uses
# temperatures of 4. The default BDD config is deeplabv3_r101_to_r18_bdd.py.
# Teacher, student, data and schedule as in deeplabv3_r101_to_r18_kd.py.
_base_ = ['./deeplabv3_r101_to_r18_bdd.py']

model = dict(
    distill_losses=dict(
        loss_bdd=dict(tau_forward=4.0, tau_reverse=4.0, loss_weight=3.0)))
