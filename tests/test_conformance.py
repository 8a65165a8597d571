"""Each loss equals its authors' (or the reference implementation's) code:
value and gradient on stored inputs, against numbers that code produced
once, run outside this repository (tests/fixtures/conformance/*.json:
the inputs, the reference's settings by its own names, its value and its
gradient with respect to the student, and the repository, path and commit
it came from). Only the numbers are kept here, never the code.

docs/losses.md ("Conformance") lists the references and the tolerance
reached."""
import glob
import json
import os.path as osp

import pytest
import torch
from mmengine.logging import MessageHub

from mmkd.models.losses import (ATLoss, BDDLoss, CIRKDLoss, CWDLoss,
                                DISTLoss, DKDLoss, IFVDLoss, KDLoss, PCDLoss,
                                SKDLoss, cirkd_pixel_loss, cirkd_region_loss,
                                mgd_loss)

FIXTURES = osp.join(osp.dirname(osp.abspath(__file__)), 'fixtures',
                    'conformance')
# float64 throughout: what is left is rounding
TOLERANCE = dict(rtol=1e-10, atol=1e-12)
BDD_ITERATIONS = 1000


def load(name):
    with open(osp.join(FIXTURES, f'{name}.json')) as file:
        return json.load(file)


def tensor(values):
    return torch.tensor(values, dtype=torch.float64)


def use_hub(**info):
    """A new message hub holding ``info``: the current one from now on
    (mmengine makes the latest created instance current)."""
    use_hub.made = getattr(use_hub, 'made', 0) + 1
    hub = MessageHub.get_instance(f'conformance-{use_hub.made}')
    for key, value in info.items():
        hub.update_info(key, value)
    return hub


def kd(settings):
    return KDLoss(tau=settings['temperature'])


def cwd(settings):
    return CWDLoss(tau=settings.get('tau', settings.get('temperature')))


def dist(settings):
    return DISTLoss(beta=settings['beta'], gamma=settings['gamma'],
                    tau=settings['tau'])


def pcd(settings):
    # their epoch counts from 1; mmengine's message hub from 0
    use_hub(epoch=settings['epoch'] - 1)
    return PCDLoss(num_stages=settings['STEPS'], tau=settings['T'],
                   loss_weight=settings['ALPHA'], reference=True,
                   warmup_epochs=settings['WARMUP'])


def bdd(settings):
    """BalanceKLDivergence's settings as BDDLoss's: channel-wise, the
    forward term at the student's temperature and the reverse one at the
    teacher's. With its iteration schedule (``image_metas`` a float ``r =
    1 - t / T``) the forward term weighs ``weight * reverse * r`` and the
    reverse one ``weight * reverse * (1 - r)``: ``reverse_schedule`` at
    iteration ``t`` of ``T``; without it, ``weight`` and ``weight *
    reverse``."""
    weight, reverse = settings['weight'], settings['reverse']
    scheduled = not isinstance(settings['image_metas'], str)
    if scheduled:
        done = 1 - settings['image_metas']
        use_hub(iter=round(done * BDD_ITERATIONS), max_iters=BDD_ITERATIONS)
    return BDDLoss(distribution='spatial',
                   tau_forward=settings['temp_stu'],
                   tau_reverse=settings['temp_tea'],
                   forward_weight=weight * reverse if scheduled else weight,
                   reverse_weight=weight * reverse,
                   reverse_schedule=scheduled)


def at(settings):
    return ATLoss(p=settings['p'])


def skd(settings):
    assert settings['patch_h'] == settings['patch_w']
    return SKDLoss(patch_size=settings['patch_h'])


def ifvd(settings):
    return IFVDLoss(num_classes=settings['classes'])


def dkd(settings):
    return DKDLoss(alpha=settings['alpha'], beta=settings['beta'],
                   tau=settings['temperature'])


def ls_kd(settings):
    assert settings['logit_stand']
    return KDLoss(tau=settings['temperature'], standardize=True)


def cirkd_pixel(settings):
    return lambda student, teacher: cirkd_pixel_loss(
        student, teacher, settings['temperature'])


CASES = {
    'kd': kd, 'kd_tau4': kd,
    'cwd': cwd, 'cwd_tau4': cwd, 'cwd_cirkd_tau4': cwd,
    'dist': dist, 'dist_cls': dist, 'dist_cls_tau4': dist,
    'pcd': pcd, 'pcd_warmup': pcd,
    'bdd_channel': bdd, 'bdd_channel_mid': bdd, 'bdd_channel_t4_t2': bdd,
    'bdd_channel_fixed': bdd, 'bdd_channel_classdefaults': bdd,
    'at': at, 'skd': skd, 'ifvd': ifvd, 'dkd': dkd, 'ls_kd': ls_kd,
    'cirkd_pixel': cirkd_pixel,
}
# checked by tests of their own below
OTHER_FIXTURES = {'mgd', 'cirkd_region', 'cirkd_enqueue'}


def value_and_gradient(loss, fixture):
    student = tensor(fixture['inputs']['student']).requires_grad_(True)
    teacher = tensor(fixture['inputs']['teacher'])
    labels = {'labels': torch.tensor(fixture['inputs']['labels'])} if \
        getattr(loss, 'needs_labels', False) else {}
    value = loss(student, teacher, **labels)
    value.backward()
    return value.detach(), student.grad


@pytest.mark.parametrize('name', list(CASES))
def test_value_and_gradient_equal_the_reference(name):
    fixture = load(name)
    value, gradient = value_and_gradient(CASES[name](fixture['settings']),
                                         fixture)
    torch.testing.assert_close(value, tensor(fixture['value']), **TOLERANCE)
    torch.testing.assert_close(gradient, tensor(fixture['grad_student']),
                               **TOLERANCE)


def test_every_fixture_is_tested_and_names_its_source():
    names = {osp.splitext(osp.basename(path))[0]
             for path in glob.glob(osp.join(FIXTURES, '*.json'))}
    assert names == set(CASES) | OTHER_FIXTURES
    for name in names:
        source = load(name)['source']
        assert source['repository'] and source['path'] and source['symbol']
        assert len(source['commit']) == 40, name


def test_the_bdd_schedule_moves_the_weight_from_forward_to_reverse():
    """At the start of training the reference's reverse term weighs 0, at
    the end all of it; half way, each term half its weight."""
    start, middle = load('bdd_channel'), load('bdd_channel_mid')
    assert start['settings']['image_metas'] == 1.0
    assert middle['settings']['image_metas'] == 0.5
    loss = bdd(middle['settings'])
    assert loss.current_weights() == pytest.approx((0.35, 0.35))
    use_hub(iter=0, max_iters=10)
    assert bdd(start['settings']).current_weights() == pytest.approx((0.7, 0))


def test_pcd_reference_on_segmentation_logits_is_per_pixel():
    """On ``[N, C, H, W]`` every pixel is one sample of the reference's
    ``[B, C]`` computation: the fixture's 4 samples as 2 images of 2x1
    pixels give its value."""
    fixture = load('pcd')
    student = tensor(fixture['inputs']['student'])  # [4, 7]
    teacher = tensor(fixture['inputs']['teacher'])

    def as_images(samples):  # image n, row h holds sample 2 n + h
        return samples.reshape(2, 2, 7).permute(0, 2, 1)[..., None]

    loss = PCDLoss(num_stages=3, tau=4.0, reference=True)
    torch.testing.assert_close(loss(as_images(student), as_images(teacher)),
                               tensor(fixture['value']), **TOLERANCE)


def test_mgd_equals_its_authors_code_with_their_mask_and_block():
    fixture = load('mgd')
    inputs, settings = fixture['inputs'], fixture['settings']
    generation = torch.nn.Sequential(
        torch.nn.Conv2d(6, 6, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(6, 6, 3, padding=1)).double()
    generation.load_state_dict({key: tensor(value) for key, value in
                                inputs['generation_state_dict'].items()})
    student = tensor(inputs['student']).requires_grad_(True)
    value = settings['alpha_mgd'] * mgd_loss(
        student, tensor(inputs['teacher']), generation,
        tensor(inputs['mask']))
    value.backward()
    torch.testing.assert_close(value.detach(), tensor(fixture['value']),
                               **TOLERANCE)
    torch.testing.assert_close(student.grad, tensor(fixture['grad_student']),
                               **TOLERANCE)


def test_cirkd_region_term_equals_its_authors_code():
    """The pixel-to-region term on the contrast set the reference drew
    (its ``_sample_negative`` of a stored memory)."""
    fixture = load('cirkd_region')
    inputs, settings = fixture['inputs'], fixture['settings']
    memory, index = tensor(inputs['Q']), torch.tensor(inputs['index'])
    contrast = memory[:, index].flatten(0, 1)  # class by class
    torch.testing.assert_close(contrast, tensor(inputs['contrast']))
    student = tensor(inputs['student']).requires_grad_(True)
    value = cirkd_region_loss(
        student, tensor(inputs['teacher']), torch.tensor(inputs['labels']),
        contrast, settings['contrast_temperature'],
        settings['contrast_kd_temperature'], settings['ignore_label'])
    value.backward()
    torch.testing.assert_close(value.detach(), tensor(fixture['value']),
                               **TOLERANCE)
    torch.testing.assert_close(student.grad, tensor(fixture['grad_student']),
                               **TOLERANCE)


def test_cirkd_region_memory_fills_as_its_authors_code():
    """Two steps of the same batch into a memory of 3 regions per class:
    each image's class means, in the reference's order, first in, first
    out."""
    fixture = load('cirkd_enqueue')
    inputs, settings = fixture['inputs'], fixture['settings']
    loss = CIRKDLoss(student_channels=8, teacher_channels=settings['dim'],
                     num_classes=settings['num_classes'],
                     region_memory_size=settings['region_memory_size'],
                     ignore_index=settings['ignore_label']).double()
    loss.region_memory.copy_(tensor(inputs['start_queue']))
    keys, labels = tensor(inputs['keys']), torch.tensor(inputs['labels'])
    for step in (1, 2):
        loss.remember(keys, labels)
        torch.testing.assert_close(
            loss.region_memory, tensor(fixture[f'segment_queue_after_{step}']),
            **TOLERANCE)
        assert loss.region_pointer.tolist() == \
            fixture[f'segment_queue_ptr_after_{step}']
