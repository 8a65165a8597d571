# Pretraining of the DigitScapes backbones: classify the digit patches
# (mmkd/datasets.py write_digit_patches; tools/make_digitscapes.py
# data/digit_patches --task patches), as Cityscapes backbones start from an
# ImageNet classifier. Inputs are normalised as the segmentation configs
# normalise them, so the backbone sees the same numbers in both.
_base_ = ['mmpretrain::_base_/default_runtime.py']
custom_imports = dict(imports=['mmkd', 'mmseg.models'],
                      allow_failed_imports=False)

data_root = 'data/digit_patches/'
data_preprocessor = dict(
    num_classes=10, mean=[127.5, 127.5, 127.5], std=[64.0, 64.0, 64.0],
    to_rgb=True)
pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='CustomDataset', data_root=data_root,
                 data_prefix='train', pipeline=pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CustomDataset', data_root=data_root,
                 data_prefix='val', pipeline=pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, ))
# Nothing is reported on this task: it only starts the backbones.
test_dataloader = val_dataloader
test_evaluator = val_evaluator

max_epochs = 6
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=0.002, weight_decay=0.01))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True,
         eta_min=1e-5)
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs,
                 val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs))
randomness = dict(seed=0)
