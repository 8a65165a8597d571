# MMSegmentation's ADE20K training and test pipelines
# (mmseg::_base_/datasets/ade20k.py) with mmkd's checked loaders, which name
# a missing or bad file (and check the label values and size) instead of
# failing inside a dataloader worker or scoring wrong labels. ADE20K's label
# maps hold 0 (other objects) and the classes 1..150: reduce_zero_label maps
# 0 to the ignore index 255 and k to k - 1 before the values are checked
# against the 150 classes. A config that lists this file among its bases
# sets them as its dataloaders' pipelines (see ../ade20k/pspnet_r18_ade20k.py).
checked_train_pipeline = [
    dict(type='mmkd.LoadCheckedImage'),
    dict(type='mmkd.LoadCheckedAnnotations', num_classes=150,
         reduce_zero_label=True),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=(512, 512), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
# The labels are loaded after the resize: they are scored at full size.
checked_test_pipeline = [
    dict(type='mmkd.LoadCheckedImage'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='mmkd.LoadCheckedAnnotations', num_classes=150,
         reduce_zero_label=True),
    dict(type='PackSegInputs')
]
