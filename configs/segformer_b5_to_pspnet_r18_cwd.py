# Channel-wise distillation of the logits (tau 1, weight 5, as
# pspnet_r101_to_r18_cwd.py, which gives the source) from SegFormer-MiT-B5
# into PSPNet-R18; teacher, student, data and distill_size as
# segformer_b5_to_pspnet_r18_kd.py.
_base_ = ['./segformer_b5_to_pspnet_r18_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_cwd=dict(type='CWDLoss', tau=1.0, loss_weight=5.0)))
