# Vanilla pixel-wise KD on ADE20K from a transformer teacher into a CNN.
# Teacher: SegFormer-MiT-B5, 49.13 mIoU (OpenMMLab model zoo,
# segformer_mit-b5_8xb2-160k_ade20k-512x512, single scale).
# Student: PSPNet-R18-d8 of pspnet_r18_ade20k.py (no zoo baseline; see
# there), with its data, schedule and runtime (SGD, batch 4 x 4 GPUs, 160k
# iterations; not the teacher's AdamW recipe).
# tau 1, weight 1 on the per-pixel mean KL, as pspnet_r101_to_r18_ade20k_kd.py
# (CIRKD's KD baseline). The SegFormer head predicts at 1/4 of the input,
# the student's PSP head at 1/8: distill_size='finer' upsamples the
# student's logits (bilinearly) to the teacher's 1/4 map and compares them
# there, instead of averaging the teacher's finer map down to 1/8. Both
# networks normalise their inputs alike (ImageNet mean and std, BGR to RGB),
# as the distiller requires.
_base_ = ['./pspnet_r101_to_r18_ade20k_kd.py']

model = dict(
    teacher=dict(
        _delete_=True,
        config='mmseg::segformer/segformer_mit-b5_8xb2-160k_ade20k-512x512.py',
        checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/'
        'segformer/segformer_mit-b5_512x512_160k_ade20k/'
        'segformer_mit-b5_512x512_160k_ade20k_20210726_145235-94cedf59.pth'),
    distill_size='finer')
