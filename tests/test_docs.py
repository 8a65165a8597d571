"""The documentation cannot drift from the software: README.md opens with
the two commands a new user runs, every command in README.md names a tool
and a config that exist, every relative link in README.md and docs/
resolves, and the documents describe the software, not how the work on it
went."""
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config

from mmkd.models.builder import config_path

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
README = osp.join(ROOT, 'README.md')
DOCUMENTS = [README] + sorted(glob.glob(osp.join(ROOT, 'docs', '*.md')))
FENCE = re.compile(r'```(\w*)\n(.*?)```', re.S)
LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')

# How the work went belongs in commit messages, not in the documents.
NARRATION = [
    (re.compile(r'\bissues? #?\d+', re.I), 'a numbered issue'),
    (re.compile(r'\bsessions?\b', re.I), 'a session'),
    (re.compile(r'\b(GPU|short) slots?\b', re.I), 'a GPU slot'),
    (re.compile(r'\b(second|another|first|other) machine\b', re.I),
     'a machine in turn'),
    (re.compile(r'\b(later|earlier|first|second) run\b', re.I),
     'a run in turn'),
    (re.compile(r'\bcommit [0-9a-f]{7,40}\b'), 'a commit hash'),
    (re.compile(r'\bbranch\b', re.I), 'a branch'),
    (re.compile(r'\b(we tried|was tried|tried and not kept|so far)\b',
                re.I), 'an account of attempts'),
]
DATE = re.compile(r'\b20\d\d-\d\d-\d\d\b')


def read(path):
    with open(path) as file:
        return file.read()


def test_readme_opens_with_the_two_commands_of_a_fresh_machine():
    language, block = FENCE.search(read(README)).groups()
    commands = [line.split('#')[0].strip() for line in block.splitlines()]
    assert language == 'bash' and commands == ['make demo', 'make test']
    assert len(read(README).splitlines()) <= 220


def readme_commands():
    for language, block in FENCE.findall(read(README)):
        if language == 'bash':
            for line in block.splitlines():
                line = line.split('#')[0].strip()
                if line:
                    yield line


@pytest.mark.parametrize('command', list(readme_commands()))
def test_every_readme_command_names_a_tool_and_configs_that_exist(command):
    words = command.split()
    if words[0] == 'make':
        makefile = read(osp.join(ROOT, 'Makefile'))
        assert re.search(rf'^{words[1]}:', makefile, re.M), command
        return
    if words[0] in ('pip', 'python3') or command.startswith('python3 -m'):
        return
    tools = [word for word in words if word.startswith('tools/')]
    assert tools, f'{command}: names no tool'
    for tool in tools:
        assert osp.isfile(osp.join(ROOT, tool)), tool
    for word in words:
        if word.startswith('configs/') and word.endswith('.py'):
            assert osp.isfile(osp.join(ROOT, word)), word
        elif word.startswith('mmkd::'):
            Config.fromfile(config_path(word))


def links():
    for document in DOCUMENTS:
        for target in LINK.findall(read(document)):
            if '://' not in target and not target.startswith('#'):
                yield document, target


@pytest.mark.parametrize(
    'document,target', list(links()),
    ids=[f'{osp.basename(d)}:{t}' for d, t in links()])
def test_every_relative_link_resolves(document, target):
    path = osp.normpath(osp.join(osp.dirname(document),
                                 target.split('#')[0]))
    assert osp.exists(path), f'{document}: {target}'


@pytest.mark.parametrize('document', DOCUMENTS, ids=osp.basename)
def test_documents_describe_the_software_not_the_history_of_the_work(
        document):
    found = []
    for number, line in enumerate(read(document).splitlines(), 1):
        for pattern, what in NARRATION:
            if pattern.search(line):
                found.append(f'line {number}, {what}: {line.strip()}')
        # a results page states its date once, where the tool wrote it
        if DATE.search(line) and not line.startswith('Written by'):
            found.append(f'line {number}, a date: {line.strip()}')
    assert not found, '\n'.join(found)


def test_the_narration_check_catches_what_it_is_for():
    text = ('As issue 14 asked, a later run on the second machine in a '
            'GPU slot at commit e4b1426 on the regime branch ...')
    caught = {what for pattern, what in NARRATION if pattern.search(text)}
    assert caught == {'a numbered issue', 'a run in turn',
                      'a machine in turn', 'a GPU slot', 'a commit hash',
                      'a branch'}
