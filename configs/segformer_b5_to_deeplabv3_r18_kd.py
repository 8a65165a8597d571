# Vanilla pixel-wise KD (tau 1, weight 1, as deeplabv3_r101_to_r18_kd.py) from a
# transformer teacher into a CNN student on Cityscapes, 80k iterations.
# Teacher: SegFormer-MiT-B5, 82.25 mIoU (OpenMMLab model zoo,
# mmseg::segformer/segformer_mit-b5_8xb1-160k_cityscapes-1024x1024.py).
# Student, data and schedule: deeplabv3_r101_to_r18_kd.py (DeepLabV3-R18-d8).
# The teacher normalises inputs as the student does (ImageNet mean and std,
# BGR to RGB): one preprocessed batch feeds both.
# The SegFormer head predicts at 1/4 of the input, the student at 1/8.
# distill_size='finer' (ours): the student's logits are upsampled to the
# teacher's map, as they are upsampled to the labels before scoring, rather
# than the teacher's map averaged down to the student's, which would blur
# the thin structures where the stronger teacher is better.
_base_ = ['./deeplabv3_r101_to_r18_kd.py']

model = dict(
    teacher=dict(
        _delete_=True,
        config='mmseg::segformer/'
        'segformer_mit-b5_8xb1-160k_cityscapes-1024x1024.py',
        checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/'
        'segformer/segformer_mit-b5_8x1_1024x1024_160k_cityscapes/'
        'segformer_mit-b5_8x1_1024x1024_160k_cityscapes_20211206_072934-'
        '87a052ec.pth'),
    distill_size='finer')
