# KD on standardised logits (Sun et al., CVPR 2024), ImageNet-1k, ResNet-34
# into ResNet-18: each sample's logits z-scored over the classes before the
# temperature, tau 2, weight 9, the authors' command
# (sunshangquan/logit-standardization-KD README: --logit-stand --base-temp 2
# --kd-weight 9). Teacher, student, data and schedule as in
# resnet34_to_resnet18_in1k_kd.py.
_base_ = ['./resnet34_to_resnet18_in1k_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_kd=dict(type='KDLoss', tau=2.0, standardize=True,
                     loss_weight=9.0)))
