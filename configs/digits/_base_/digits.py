# The handwritten digits of scikit-learn for classification, 16x16, a
# folder per class (mmkd/datasets.py; build them with
# tools/make_digitscapes.py data/digits --task cls), an epoch schedule and
# MMPretrain's default runtime: what every configs/digits config shares.
# Sized for a 2-core CPU.
_base_ = ['mmpretrain::_base_/default_runtime.py']
custom_imports = dict(imports=['mmkd'], allow_failed_imports=False)

data_root = 'data/digits/'
num_classes = 10
data_preprocessor = dict(
    num_classes=num_classes, mean=[127.5], std=[64.0], to_rgb=False)

# Shifts only: a mirrored digit is not a digit.
train_pipeline = [
    dict(type='LoadImageFromFile', color_type='grayscale'),
    dict(type='RandomCrop', crop_size=16, padding=1),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', color_type='grayscale'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='CustomDataset', data_root=data_root,
                 data_prefix='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CustomDataset', data_root=data_root,
                 data_prefix='val', pipeline=test_pipeline))
# Settings are chosen on val; results are reported on test.
test_dataloader = dict(
    val_dataloader,
    dataset=dict(type='CustomDataset', data_root=data_root,
                 data_prefix='test', pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

# The student's schedule: 10 epochs (450 iterations). Settings are chosen
# on val and results reported on test (tools/benchmark_methods.py --task
# cls); the benchmark also trains it for 20 epochs to check convergence.
max_epochs = 10
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=0.002, weight_decay=0.01))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True,
         eta_min=1e-5)
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs,
                 val_interval=max_epochs // 2)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs))
randomness = dict(seed=0)
