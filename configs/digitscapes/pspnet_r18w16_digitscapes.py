# The teacher: a PSPNet on a ResNetV1c-50 of base width 16 (1/4 of the
# usual), 2500 iterations of batch 8. Its checkpoint, where the distill
# configs look for it: work_dirs/pspnet_r50_digitscapes/iter_2500.pth
_base_ = ['./pspnet_r18_digitscapes.py']

width = 16
max_iters = 2500
model = dict(
    backbone=dict(depth=50, stem_channels=width, base_channels=width),
    decode_head=dict(in_channels=32 * width, channels=4 * width),
    auxiliary_head=dict(in_channels=16 * width, channels=width))
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
