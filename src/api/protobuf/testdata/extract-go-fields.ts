/**
 * Dev tool: derives `go-fields.json` (how each protobuf field of the built-in kinds is spelt and shaped in Go's
 * JSON encoding) from the run-time type information inside a kubectl binary.
 *
 * Why: the wire schema says nothing about Go pointers, `omitempty` or `json:",inline"`, and those decide what a
 * JSON body would have held. Every Go binary keeps, for reflection, each struct's fields with their tags and
 * types; kubectl links all of k8s.io/api. This reads them from the ELF file (static, non-PIE, amd64, Go ≥1.22
 * layout of internal/abi), matches each Go struct that carries protobuf tags to its wire-schema message by package
 * and name, and writes per proto field: omitempty, pointer, inline, wrapped slice type, JSON name if different.
 *
 * Usage (from the repo root; newest binary first, it wins where binaries disagree):
 *   npx tsx src/api/protobuf/testdata/extract-go-fields.ts --schema src/api/protobuf/wire-schema.json \
 *     /usr/lib/google-cloud-sdk/bin/kubectl.1.33 /usr/lib/google-cloud-sdk/bin/kubectl.1.32 > src/api/protobuf/go-fields.json
 */
import { readFileSync } from 'node:fs';

interface Segment {
  vaddr: bigint;
  off: number;
  size: number;
}

/** One Go struct field as the facts file records it. */
export interface GoField {
  /** Go field name. */
  go: string;
  /** JSON name from the json tag ("" when inline). */
  json: string;
  omitempty: boolean;
  inline: boolean;
  /** Go kind of the field: ptr, struct, string, int32, int64, bool, slice, map, ... */
  kind: string;
  /** For ptr/slice/map: the element's kind. */
  elem?: string;
  /** Go type string as the binary spells it, e.g. "*v1.Time". */
  type: string;
  /** Proto field name from the protobuf tag. */
  proto?: string;
}

const kinds = [
  'invalid', 'bool', 'int', 'int8', 'int16', 'int32', 'int64', 'uint', 'uint8', 'uint16', 'uint32', 'uint64',
  'uintptr', 'float32', 'float64', 'complex64', 'complex128', 'array', 'chan', 'func', 'interface', 'map', 'ptr',
  'slice', 'string', 'struct', 'unsafeptr',
];

function load(path: string) {
  const b = readFileSync(path);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) throw new Error('not a 64-bit ELF');
  const phoff = Number(b.readBigUInt64LE(0x20));
  const phnum = b.readUInt16LE(0x38);
  const segs: Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * 56;
    if (b.readUInt32LE(p) !== 1) continue; // PT_LOAD
    segs.push({ off: Number(b.readBigUInt64LE(p + 8)), vaddr: b.readBigUInt64LE(p + 16), size: Number(b.readBigUInt64LE(p + 32)) });
  }
  // Section headers, to find .rodata (moduledata.types starts there in Go's internal linker layout).
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shnum = b.readUInt16LE(0x3c);
  const shstrndx = b.readUInt16LE(0x3e);
  const strOff = Number(b.readBigUInt64LE(shoff + shstrndx * 64 + 24));
  let rodata: Segment | undefined;
  for (let i = 0; i < shnum; i++) {
    const s = shoff + i * 64;
    const nameOff = b.readUInt32LE(s);
    let e = strOff + nameOff;
    while (b[e]) e++;
    const name = b.toString('latin1', strOff + nameOff, e);
    if (name === '.rodata') rodata = { vaddr: b.readBigUInt64LE(s + 16), off: Number(b.readBigUInt64LE(s + 24)), size: Number(b.readBigUInt64LE(s + 32)) };
  }
  if (!rodata) throw new Error('no .rodata');
  return { b, segs, rodata };
}

function extract(path: string): Map<string, Map<number, GoField>> {
  const { b, segs, rodata } = load(path);
  const toOff = (va: bigint): number => {
    for (const s of segs) if (va >= s.vaddr && va < s.vaddr + BigInt(s.size)) return s.off + Number(va - s.vaddr);
    return -1;
  };
  const toVa = (off: number): bigint => {
    for (const s of segs) if (off >= s.off && off < s.off + s.size) return s.vaddr + BigInt(off - s.off);
    return -1n;
  };
  const varint = (p: number): [number, number] => {
    let v = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      const c = b[p + i];
      v |= (c & 0x7f) << shift;
      if (!(c & 0x80)) return [v, p + i + 1];
      shift += 7;
    }
    return [-1, p];
  };
  /** Decodes an abi.Name at file offset p. */
  const readName = (p: number): { name: string; tag: string; end: number } | undefined => {
    const flags = b[p];
    if (flags & 0xf0) return undefined;
    const [n, q] = varint(p + 1);
    if (n < 0 || n > 200) return undefined;
    const name = b.toString('latin1', q, q + n);
    let end = q + n;
    let tag = '';
    if (flags & 2) {
      const [tl, r] = varint(end);
      if (tl < 0 || tl > 500) return undefined;
      tag = b.toString('latin1', r, r + tl);
      end = r + tl;
    }
    return { name, tag, end };
  };
  const typesBase = rodata.vaddr;
  const nameAt = (off: number): string => {
    const n = readName(rodata.off + off);
    return n ? n.name : '?';
  };
  const typeString = (typOff: number): string => {
    const tflag = b[typOff + 20];
    const s = nameAt(b.readInt32LE(typOff + 40));
    return tflag & 2 ? s.slice(1) : s; // TFlagExtraStar
  };
  const kindOf = (typOff: number) => kinds[b[typOff + 23] & 0x1f] ?? '?';

  // 1. Every abi.Name whose tag holds a protobuf tag.
  const protoNames = new Set<bigint>();
  const ro = b.subarray(rodata.off, rodata.off + rodata.size);
  const needle = Buffer.from('protobuf:"');
  for (let h = ro.indexOf(needle); h >= 0; h = ro.indexOf(needle, h + 1)) {
    const abs = rodata.off + h;
    for (let s = abs - 1; s > abs - 300; s--) {
      const n = readName(s);
      if (!n || !n.tag || n.end <= abs || n.end > abs + 400) continue;
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n.name) || !(b[s] & 1 || /^[a-z_]/.test(n.name))) continue;
      // The tag must contain this very occurrence and end right after a closing quote.
      const tagStart = n.end - Buffer.byteLength(n.tag, 'latin1');
      if (tagStart > abs || b[n.end - 1] !== 0x22) continue;
      protoNames.add(toVa(s));
      break;
    }
  }

  // 2. StructField arrays: {name *byte, typ *Type, offset uintptr}; find the struct types whose Fields slice points at them.
  const out = new Map<string, Map<number, GoField>>();
  for (const seg of segs) {
    for (let p = seg.off; p + 24 <= seg.off + seg.size; p += 8) {
      const len = b.readBigUInt64LE(p + 8);
      if (len === 0n || len > 300n || b.readBigUInt64LE(p + 16) !== len) continue;
      const arr = toOff(b.readBigUInt64LE(p));
      if (arr < 0) continue;
      const n = Number(len);
      let tagged = false;
      for (let i = 0; i < n && !tagged; i++) {
        if (arr + i * 24 + 8 > b.length) break;
        if (protoNames.has(b.readBigUInt64LE(arr + i * 24))) tagged = true;
      }
      if (!tagged) continue;
      const typ = p - 56; // abi.Type (48 bytes) + PkgPath Name (8 bytes) precede Fields.
      if (kindOf(typ) !== 'struct') continue;
      const tflag = b[typ + 20];
      let pkg = '';
      if (tflag & 1) pkg = nameAt(b.readInt32LE(typ + 80)); // UncommonType.PkgPath
      const tname = typeString(typ);
      const key = `${pkg}.${tname.replace(/^.*\./, '')}`;
      const fields = new Map<number, GoField>();
      for (let i = 0; i < n; i++) {
        const f = arr + i * 24;
        const nameOff = toOff(b.readBigUInt64LE(f));
        const ftyp = toOff(b.readBigUInt64LE(f + 8));
        const nm = nameOff >= 0 ? readName(nameOff) : undefined;
        if (!nm || ftyp < 0) continue;
        const pm = /protobuf:"([^"]*)"/.exec(nm.tag);
        if (!pm) continue;
        const parts = pm[1].split(',');
        const num = Number(parts[1]);
        const jm = /json:"([^"]*)"/.exec(nm.tag);
        const jparts = (jm ? jm[1] : '').split(',');
        const kind = kindOf(ftyp);
        const gf: GoField = {
          go: nm.name,
          json: jparts[0],
          omitempty: jparts.includes('omitempty'),
          inline: jparts.includes('inline'),
          kind,
          type: typeString(ftyp),
        };
        if (kind === 'ptr' || kind === 'slice' || kind === 'map') {
          const eoff = toOff(b.readBigUInt64LE(ftyp + (kind === 'map' ? 56 : 48))); // Map: Key at 48, Elem at 56
          if (eoff >= 0) gf.elem = kindOf(eoff);
        }
        const pname = parts.find((x) => x.startsWith('name='))?.slice(5);
        const pjson = parts.find((x) => x.startsWith('json='))?.slice(5);
        gf.proto = pjson ?? pname;
        fields.set(num, gf);
      }
      if (fields.size) out.set(key, fields);
    }
  }
  return out;
}

const args = process.argv.slice(2);
const schemaAt = args.indexOf('--schema');
if (schemaAt < 0 || args.length < schemaAt + 3) {
  process.stderr.write('usage: extract-go-fields.ts --schema wire-schema.json KUBECTL_BINARY... (newest first)\n');
  process.exit(2);
}
const schemaPath = args[schemaAt + 1];
const paths = args.filter((_, i) => i !== schemaAt && i !== schemaAt + 1);

// Merge the binaries' facts, the first (newest) winning; report disagreements.
const merged = new Map<string, Map<number, GoField>>();
for (const path of paths) {
  for (const [k, fields] of extract(path)) {
    const m = merged.get(k) ?? new Map();
    merged.set(k, m);
    for (const [num, f] of fields) {
      const prev = m.get(num);
      if (prev && JSON.stringify(prev) !== JSON.stringify(f)) process.stderr.write(`differs: ${k} ${num} ${JSON.stringify(prev)} vs ${JSON.stringify(f)}\n`);
      if (!prev) m.set(num, f);
    }
  }
}

// Translate to the decoder's form: proto message name → proto field name → flags.
interface SchemaNode {
  nested?: Record<string, SchemaNode>;
  fields?: Record<string, { id: number; type: string; rule?: string; keyType?: string }>;
}
const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as SchemaNode;
const out: Record<string, Record<string, string>> = {};
let missing = 0;
const walk = (node: SchemaNode, prefix: string): void => {
  for (const [name, child] of Object.entries(node.nested ?? {})) {
    const full = prefix ? `${prefix}.${name}` : name;
    if (child.fields) {
      const goKey = `k8s.io/${full.slice('k8s.io.'.length, full.length - name.length - 1).replaceAll('.', '/')}.${name}`;
      const facts = merged.get(goKey);
      if (!facts) {
        missing++;
      } else {
        const m: Record<string, string> = {};
        for (const [fname, f] of Object.entries(child.fields)) {
          const g = facts.get(f.id);
          if (!g) continue;
          let flags = '';
          if (g.omitempty) flags += 'o';
          if (g.kind === 'ptr') flags += 'p';
          if (g.inline) flags += 'i';
          // A Go slice type (or map of them) that protobuf wraps in a message with one repeated `items` field.
          if ((g.kind === 'slice' && !f.rule) || (g.kind === 'map' && g.elem === 'slice')) flags += 's';
          if (!g.inline && g.json && g.json !== '-' && g.json !== fname) flags += `=${g.json}`;
          m[fname] = flags;
        }
        out[full] = m;
      }
    }
    walk(child, full);
  }
};
walk(schema, '');
process.stderr.write(`${Object.keys(out).length} messages with Go facts, ${missing} without\n`);
const header = {
  _: 'Generated by testdata/extract-go-fields.ts from the Go type information in kubectl binaries. Per proto message, per proto field: o = json omitempty, p = Go pointer, i = json inline, s = Go slice type wrapped in a message of repeated items, =name = JSON name when it differs.',
};
process.stdout.write(JSON.stringify({ ...header, ...out }) + '\n');
