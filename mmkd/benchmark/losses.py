"""Time and memory of every distill loss, forward plus backward, beside a
straightforward implementation of the same formula
(``tools/benchmark_losses.py``): how much the fused gradients save, and
that both give the same value and gradient."""
import statistics
import time

import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub

from mmkd.models.losses import BDDLoss, CWDLoss, DISTLoss, KDLoss, PCDLoss
from mmkd.models.losses.pcd import stage_sequence
from .memory import PeakMemory, in_fresh_process

__all__ = ['LOSSES', 'measure', 'benchmark_losses', 'table']

# ---- straightforward versions: the formulas as first written down -------


def kd_plain(s, t, tau=1.0):
    num_classes = s.shape[1]
    s = s.permute(0, 2, 3, 1).reshape(-1, num_classes)
    t = t.permute(0, 2, 3, 1).reshape(-1, num_classes)
    return F.kl_div(F.log_softmax(s / tau, 1), F.softmax(t / tau, 1),
                    reduction='batchmean') * tau**2


def bdd_plain(s, t, tau_f=1.0, tau_r=1.0, w_f=1.0, w_r=1.0):
    reverse_rows = F.kl_div(
        F.log_softmax(t.permute(0, 2, 3, 1).reshape(-1, t.shape[1]) / tau_r, 1),
        F.softmax(s.permute(0, 2, 3, 1).reshape(-1, s.shape[1]) / tau_r, 1),
        reduction='batchmean')
    return w_f * kd_plain(s, t, tau_f) + w_r * tau_r**2 * reverse_rows


def dist_plain(s, t, beta=1.0, gamma=1.0, tau=1.0):
    num_classes = s.shape[1]
    q = (s.transpose(1, 3).reshape(-1, num_classes) / tau).softmax(1)
    p = (t.transpose(1, 3).reshape(-1, num_classes) / tau).softmax(1)

    def relation(a, b):
        a = a - a.mean(1, keepdim=True)
        b = b - b.mean(1, keepdim=True)
        cos = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1) + 1e-8)
        return 1 - cos.mean()

    return tau**2 * (beta * relation(q, p) + gamma * relation(q.T, p.T))


def cwd_plain(s, t, tau=1.0):
    n, c, h, w = s.shape
    log_q = F.log_softmax(s.reshape(-1, h * w) / tau, 1)
    log_p = F.log_softmax(t.reshape(-1, h * w) / tau, 1)
    return (log_p.exp() * (log_p - log_q)).sum() * tau**2 / (n * c)


def pcd_plain(s, t, stages=tuple(stage_sequence(3)), tau=1.0):
    """One group at a time: sort, then slice each group of each stage."""
    num_classes = s.shape[1]
    order = (t - s).abs().detach().argsort(dim=1, descending=True, stable=True)
    s_ranked, t_ranked = (s / tau).gather(1, order), (t / tau).gather(1, order)
    total = 0
    for groups in stages:
        sizes = [len(chunk) for chunk in torch.arange(num_classes).tensor_split(groups)]
        start = 0
        for size in sizes:
            log_q = F.log_softmax(s_ranked[:, start:start + size], 1)
            log_p = F.log_softmax(t_ranked[:, start:start + size], 1)
            p, q = log_p.exp(), log_q.exp()
            weight = 1 - F.cosine_similarity(p, q, dim=1).detach()
            total = total + weight * (p * (log_p - log_q)).sum(1)
            start += size
    return tau**2 * total.mean()


LOSSES = {
    'KD': (KDLoss(), kd_plain),
    'BDD': (BDDLoss(), bdd_plain),
    'DIST': (DISTLoss(), dist_plain),
    'CWD': (CWDLoss(), cwd_plain),
    'PCD joint, 3 stages': (PCDLoss(num_stages=3), pcd_plain),
    # the finest (costliest) stage, as in the first 1/6 of training
    'PCD progressive': (PCDLoss(num_stages=3, schedule='progressive'),
                        lambda s, t: pcd_plain(s, t, stages=(3, ))),
}

# ---- measurement ----------------------------------------------------------


def measure(name, plain, shape, device, repeats, warmup):
    """Time and peak memory of one loss, in a fresh process."""
    torch.manual_seed(0)
    device = torch.device(device)
    hub = MessageHub.get_current_instance()  # for the progressive schedule
    hub.update_info('iter', 0)
    hub.update_info('max_iters', 1)
    loss = LOSSES[name][1 if plain else 0]
    student = torch.randn(shape, device=device, requires_grad=True)
    teacher = torch.randn(shape, device=device)
    times = []
    memory = PeakMemory(device.type)  # above the inputs
    for step in range(warmup + repeats):
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        value = loss(student, teacher)
        value.backward()
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        if step >= warmup:
            times.append(time.perf_counter() - start)
        gradient, student.grad = student.grad, None
    return (statistics.median(times), memory.mib(), value.item(),
            gradient.cpu())


def benchmark_losses(shape=(8, 19, 128, 256), device: str = 'cpu',
                     repeats: int = 5, warmup: int = 2) -> dict:
    """Each loss of :data:`LOSSES` and its straightforward version,
    forward plus backward on random logits of ``shape``, each measured in
    a fresh process: the median time, the peak memory above the inputs
    (:mod:`mmkd.benchmark.memory`), the ratio to KD's time, the speed-up
    over the straightforward version and the largest differences between
    the two values and gradients. Returns the figures as a dict."""
    rows = []
    for name in LOSSES:
        seconds, memory, value, gradient = in_fresh_process(
            measure, name, False, shape, device, repeats, warmup)
        plain_seconds, _, plain_value, plain_gradient = in_fresh_process(
            measure, name, True, shape, device, repeats, warmup)
        rows.append(dict(
            loss=name, seconds=seconds, peak_mib=memory,
            plain_seconds=plain_seconds,
            value_difference=abs(value - plain_value),
            gradient_difference=(gradient - plain_gradient).abs().max().item()))
    for row in rows:
        row['vs_kd'] = row['seconds'] / rows[0]['seconds']
        row['speedup_vs_plain'] = row['plain_seconds'] / row['seconds']
    return dict(shape=list(shape), device=device, torch=torch.__version__,
                threads=torch.get_num_threads(), repeats=repeats, rows=rows)


def table(figures: dict) -> str:
    """:func:`benchmark_losses`' figures as a plain-text table."""
    lines = [
        f'forward+backward on logits {figures["shape"]}, '
        f'{figures["device"]}, torch {figures["torch"]}, '
        f'{figures["threads"]} threads, median of {figures["repeats"]}; '
        'peak MiB: above the inputs (mmkd.benchmark.memory)',
        f'{"loss":<22}{"ms":>9}{"x KD":>7}{"peak MiB":>10}'
        f'{"plain ms":>10}{"speed-up":>9}{"|diff|":>10}{"|grad diff|":>12}']
    for row in figures['rows']:
        lines.append(
            f'{row["loss"]:<22}{row["seconds"] * 1e3:>9.1f}'
            f'{row["vs_kd"]:>7.2f}{row["peak_mib"]:>10.0f}'
            f'{row["plain_seconds"] * 1e3:>10.1f}'
            f'{row["speedup_vs_plain"]:>9.2f}'
            f'{row["value_difference"]:>10.1e}'
            f'{row["gradient_difference"]:>12.1e}')
    return '\n'.join(lines)
