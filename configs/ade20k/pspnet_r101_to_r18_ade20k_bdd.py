# Balance Divergence Distillation (Qi et al., arXiv:2501.07804) on ADE20K:
# forward KL plus a compensating reverse KL, channel-wise, temperatures 1,
# forward and reverse weight 1, loss weight 5. The setting of
# ../pspnet_r101_to_r18_bdd.py (Cityscapes), which says where it comes from
# (MMRazor's CWD setting for this pair plus a reverse term of the same
# weight and temperature; not tuned on ADE20K).
# Teacher, student, data and schedule as in pspnet_r101_to_r18_ade20k_kd.py.
_base_ = ['./pspnet_r101_to_r18_ade20k_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_bdd=dict(
            type='BDDLoss',
            distribution='spatial',
            tau_forward=1.0,
            tau_reverse=1.0,
            forward_weight=1.0,
            reverse_weight=1.0,
            loss_weight=5.0)))
