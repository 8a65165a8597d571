# DigitScapes (mmkd/datasets.py; build it with tools/make_digitscapes.py),
# an iteration schedule and MMSegmentation's default runtime: what every
# DigitScapes config shares. Sized for a 2-core CPU.
_base_ = ['mmseg::_base_/default_runtime.py']
custom_imports = dict(imports=['mmkd'], allow_failed_imports=False)

data_root = 'data/digitscapes/'
image_size = (64, 128)
num_classes = 11
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[127.5, 127.5, 127.5],
    std=[64.0, 64.0, 64.0],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=image_size)

# No flips or crops: a mirrored digit is not a digit, and the whole canvas
# is small enough to train on.
# The checked loaders name a missing or bad file (label values included).
pipeline = [
    dict(type='mmkd.LoadCheckedImage'),
    dict(type='mmkd.LoadCheckedAnnotations', num_classes=num_classes),
    dict(type='PackSegInputs')
]
dataset = dict(
    type='mmkd.DigitScapesDataset', data_root=data_root, pipeline=pipeline)
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        dataset,
        data_prefix=dict(
            img_path='leftImg8bit/train', seg_map_path='gtFine/train')))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        dataset,
        data_prefix=dict(
            img_path='leftImg8bit/val', seg_map_path='gtFine/val')))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

max_iters = 1000
# AdamW: from scratch on this data, SGD at lr 0.02 left both networks
# predicting background only after 1000 iterations; AdamW did not.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.002, weight_decay=0.01))
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=max_iters),
    visualization=dict(type='SegVisualizationHook'))
randomness = dict(seed=0)
