# Balance Divergence Distillation, channel-wise form (each class channel a
# softmax over positions, CWD's normalisation), temperatures and weights as
# pspnet_r18w16_to_r18w8_digitscapes_bdd.py (mmkd/benchmark/sweeps.py
# sweeps them on val).
_base_ = ['./pspnet_r18w16_to_r18w8_digitscapes_bdd.py']

model = dict(distill_losses=dict(loss_bdd=dict(distribution='spatial')))
