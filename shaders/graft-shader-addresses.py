#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Builds the device-address variant of a compute shader.

A storage buffer bound through a descriptor is limited to maxStorageBufferRange (128 MiB
on lavapipe); one reached through its device address (bufferDeviceAddress, core in
Vulkan 1.2) is limited only by the buffer's size. Rather than keep a second copy of
every shader, this derives the variant from the preprocessed source, so the two can
never compute different things:

  layout(std430, set = 0, binding = N) readonly buffer Block { float name[]; };
becomes a buffer reference type
  layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer Block { float name[]; };
and every `name[i]` becomes `Block(p.graft_address[N]).name[i]`, where graft_address is
an array of uvec2 addresses added at the start of the push-constant block. The host
pushes the address of binding i at byte 8 * i and its parameters after the K slots, K
the largest storage binding plus one, written to the second output. Texel buffers
(samplerBuffer) stay descriptors.

Usage: graft-shader-addresses.py GLSLC INPUT OUTPUT SLOTS DEPFILE INCLUDE_DIR
"""

import os
import re
import subprocess
import sys

DECL = re.compile(
    r'layout\s*\(([^)]*)\)\s*((?:(?:readonly|writeonly|restrict|coherent|volatile)\s+)*)'
    r'buffer\s+(\w+)\s*\{\s*(\w+)\s+(\w+)\s*\[\s*\]\s*;\s*\}\s*;')
PUSH = re.compile(r'layout\s*\(\s*push_constant\s*\)\s*uniform\s+\w+\s*\{')
PUSH_NAME = re.compile(r'layout\s*\(\s*push_constant\s*\)\s*uniform\s+\w+\s*\{[^}]*\}\s*(\w+)\s*;')


def fail(message):
    sys.stderr.write('graft-shader-addresses: %s\n' % message)
    sys.exit(1)


def transform(source, path):
    buffers = {}   # name -> (block, binding)
    decls = []

    def take(match):
        layout, qualifiers, block, elem_type, name = match.groups()
        binding = re.search(r'binding\s*=\s*(\d+)', layout)
        if binding is None or 'std430' not in layout:
            fail('%s: a storage buffer without std430 and a binding: %s' % (path, match.group(0)))
        buffers[name] = (block, int(binding.group(1)))
        align = 16 if elem_type in ('vec4', 'uvec4', 'ivec4') else 4
        decls.append('layout(buffer_reference, std430, buffer_reference_align = %d) %sbuffer %s { %s %s[]; };'
                     % (align, qualifiers, block, elem_type, name))
        return '@GRAFT_DECL_%d@' % (len(decls) - 1)

    source = DECL.sub(take, source)
    if not buffers:
        fail('%s declares no storage buffer' % path)
    if re.search(r'\bbuffer\s+\w+\s*\{', source):
        fail('%s: a storage buffer this script cannot rewrite' % path)

    push = PUSH_NAME.search(source)
    if push is None:
        fail('%s has no push-constant block to carry the addresses' % path)
    instance = push.group(1)

    names = '|'.join(sorted((re.escape(n) for n in buffers), key=len, reverse=True))
    access = re.compile(r'(?<![\w.])(\s*)\b(' + names + r')(\s*\[)')

    def ref(match):
        # A member of the same name (p . name[i]) is not a buffer.
        before = source_text[:match.start()].rstrip()
        if before.endswith('.'):
            return match.group(0)
        block, binding = buffers[match.group(2)]
        return '%s%s(%s.graft_address[%d]).%s%s' % (match.group(1), block, instance, binding,
                                                    match.group(2), match.group(3))

    source_text = source
    source = access.sub(ref, source)

    slots = max(b for _, b in buffers.values()) + 1
    source = PUSH.sub(lambda m: m.group(0) + '\n  uvec2 graft_address[%d];' % slots, source, count=1)
    for i, decl in enumerate(decls):
        source = source.replace('@GRAFT_DECL_%d@' % i, decl)

    version = re.search(r'^#version[^\n]*\n', source, re.M)
    if version is None:
        fail('%s has no #version line' % path)
    source = (source[:version.end()] +
              '#extension GL_EXT_buffer_reference : require\n'
              '#extension GL_EXT_buffer_reference_uvec2 : require\n' +
              source[version.end():])
    return source, slots


def main():
    if len(sys.argv) != 7:
        fail(__doc__.strip().splitlines()[-1])
    glslc, src, output, slots_out, depfile, include = sys.argv[1:]
    base = os.path.splitext(output)[0]
    pre = base + '.pre.comp'
    gen = base + '.comp'
    common = ['--target-env=vulkan1.2', '-I', include]

    subprocess.run([glslc] + common + ['-E', '-MD', '-MF', depfile, '-MT', output,
                                       src, '-o', pre], check=True)
    with open(pre, encoding='utf-8') as f:
        text, slots = transform(f.read(), src)
    with open(gen, 'w', encoding='utf-8') as f:
        f.write(text)
    subprocess.run([glslc] + common + ['-O', '-Werror', '-mfmt=c', '-o', output, gen], check=True)
    with open(slots_out, 'w', encoding='utf-8') as f:
        f.write('%d\n' % slots)


if __name__ == '__main__':
    main()
