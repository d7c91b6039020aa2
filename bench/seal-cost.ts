/**
 * The seal suite's pure figures (no links): bytes a sealed frame adds, per message and per
 * transport on the wire, and the AEAD's throughput.
 *
 * - Bytes: real encoded protocol-v2 messages (a one-command `Push` of scope number 1, the bare
 *   push it is sent as, a `PollRequest` with heads and a full sample) sealed with `protocol/seal.ts`; the
 *   on-wire size of the one-command push sealed and unsealed through each transport's own
 *   encoder: serial (ARQ DATA header, CRC-32, COBS, delimiter), TCP (length prefix), MQTT
 *   (payload; the PUBLISH packet around it with the real inbox topic and a packet id).
 * - Throughput: seal + open of one frame (200 B, 1 KiB, 64 KiB) with `sealFrame`/`openFrame` (ChaCha20-Poly1305, the
 *   real code path); for the record AES-256-GCM through the same node:crypto calls, in a mirror
 *   of the same frame layout (the mirror also runs ChaCha20-Poly1305, so the two compare like
 *   for like). MB/s of plaintext, each byte sealed once and opened once; median of runs.
 */
import { createCipheriv, createDecipheriv, randomBytes, type CipherGCMTypes } from 'node:crypto';
import { encodeBarePushV2 } from '../protocol/bare-push-v2.js';
import { encodeCommandV2 } from '../protocol/command-v2.js';
import { CommandKind } from '../protocol/constants-v2.js';
import { encodeMessageV2 } from '../protocol/envelope-v2.js';
import { generateIdentity } from '../protocol/keys.js';
import { inboxTopic, DEFAULT_TOPIC_PREFIX } from '../protocol/mqtt-topics.js';
import { SEAL_HEADER_BYTES, SEAL_MARKER, SEAL_OVERHEAD, SEAL_TAG_BYTES, deriveSealKeys, ephemeralFromSecret, openFrame, sealFrame } from '../protocol/seal.js';
import { ArqKind, ARQ_DATA_HEADER } from '../protocol/serial-arq.js';
import { encodeSerialFrame } from '../protocol/serial-frame.js';
import { encodeTcpFrame } from '../protocol/tcp-frame.js';
import { median, payload, round } from './util.js';

/** The three sample messages, encoded: `push` (one-command Push), `bare` (that command bare), `poll`. */
export function sampleMessages(): Record<'push' | 'bare' | 'poll', Uint8Array> {
  const id = generateIdentity();
  const ids = (n: number, seed: number) => Array.from({ length: n }, (_, i) => payload(32, seed + i));
  const scopeId = payload(32, 50);
  const cmd = encodeCommandV2(scopeId, { parents: ids(1, 60), author: id.author, seq: 1, kind: CommandKind.Data, payload: payload(100, 1) }, (m) => id.sign(m));
  return {
    push: encodeMessageV2({ type: 'Push', scope: 1, remaining: 1 << 20, exhausted: false, commands: [cmd.bytes] }),
    bare: encodeBarePushV2(cmd.bytes, 1),
    poll: encodeMessageV2({ type: 'PollRequest', scope: 1, session: 7, max_bytes: 65536, heads: ids(2, 100), sample: ids(16, 200), window: 0 }),
  };
}

/** Serial wire bytes of one message sent as one ARQ DATA chunk (LAST set; epoch and seq non-zero). */
function serialWire(body: Uint8Array): number {
  const chunk = new Uint8Array(ARQ_DATA_HEADER + body.length);
  chunk.set([ArqKind.Data | ArqKind.Last, 0x5a, 0x07]);
  chunk.set(body, ARQ_DATA_HEADER);
  return encodeSerialFrame(chunk).length;
}

/** MQTT 3.1.1 PUBLISH packet size at QoS 1: fixed header, topic, packet id, payload. */
function mqttPublish(topic: string, payloadBytes: number): number {
  const remaining = 2 + Buffer.byteLength(topic) + 2 + payloadBytes;
  let varint = 1;
  for (let r = remaining; r > 127; r >>= 7) varint++;
  return 1 + varint + remaining;
}

/** `seal.bytes_per_frame_added*` and `seal.wire_bytes.*` figures. */
export function sealBytes(): Record<string, number> {
  const key = new Uint8Array(randomBytes(32));
  const msgs = sampleMessages();
  const added = Object.fromEntries(Object.entries(msgs).map(([k, m]) => [k, sealFrame(key, 1, m).length - m.length]));
  const bare = msgs.bare;
  const sealed = sealFrame(key, 1, bare);
  const topic = inboxTopic(DEFAULT_TOPIC_PREFIX, '0123456789abcdef', 'fedcba9876543210');
  return {
    'seal.bytes_per_frame_added': Math.max(...Object.values(added)),
    'seal.bytes_per_frame_added.push': added.push!,
    'seal.bytes_per_frame_added.bare_command': added.bare!,
    'seal.bytes_per_frame_added.poll_request': added.poll!,
    'seal.message_bytes.bare_command': bare.length,
    'seal.wire_bytes.serial.off': serialWire(bare),
    'seal.wire_bytes.serial.sealed': serialWire(sealed),
    'seal.wire_bytes.tcp.off': encodeTcpFrame(bare).length,
    'seal.wire_bytes.tcp.sealed': encodeTcpFrame(sealed).length,
    'seal.wire_bytes.mqtt_payload.off': bare.length,
    'seal.wire_bytes.mqtt_payload.sealed': sealed.length,
    'seal.wire_bytes.mqtt_publish.off': mqttPublish(topic, bare.length),
    'seal.wire_bytes.mqtt_publish.sealed': mqttPublish(topic, sealed.length),
  };
}

/** `sealFrame`'s layout with any node:crypto AEAD of a 12-byte nonce and a 16-byte tag (the mirror). */
function mirrorSeal(alg: 'chacha20-poly1305' | CipherGCMTypes, key: Uint8Array, seq: number, pt: Uint8Array): Uint8Array {
  const out = new Uint8Array(SEAL_OVERHEAD + pt.length);
  out[0] = SEAL_MARKER;
  new DataView(out.buffer).setUint32(1, seq);
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32BE(seq, 8);
  // The overload per algorithm family differs only in its type; the calls are the same.
  const c = createCipheriv(alg as 'chacha20-poly1305', key, nonce, { authTagLength: SEAL_TAG_BYTES });
  c.setAAD(out.subarray(0, SEAL_HEADER_BYTES), { plaintextLength: pt.length });
  out.set(c.update(pt), SEAL_HEADER_BYTES);
  c.final();
  out.set(c.getAuthTag(), SEAL_HEADER_BYTES + pt.length);
  return out;
}

function mirrorOpen(alg: 'chacha20-poly1305' | CipherGCMTypes, key: Uint8Array, body: Uint8Array): Uint8Array {
  const seq = new DataView(body.buffer, body.byteOffset, body.length).getUint32(1);
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32BE(seq, 8);
  const tagAt = body.length - SEAL_TAG_BYTES;
  const d = createDecipheriv(alg as 'chacha20-poly1305', key, nonce, { authTagLength: SEAL_TAG_BYTES });
  d.setAAD(body.subarray(0, SEAL_HEADER_BYTES), { plaintextLength: tagAt - SEAL_HEADER_BYTES });
  d.setAuthTag(body.subarray(tagAt));
  const pt = d.update(body.subarray(SEAL_HEADER_BYTES, tagAt));
  d.final();
  return pt;
}

/** Plaintext MB/s of `op` (one seal + one open of `bytes`) over at least `ms`. */
function rate(op: (seq: number) => void, bytes: number, ms: number): number {
  let n = 0;
  const batch = bytes > 8192 ? 4 : 200;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < batch; i++) op(n++);
    t = performance.now();
  }
  return (n * bytes) / ((t - t0) / 1000) / 1e6;
}

/** `seal.throughput_mb_s.*`, `seal.aes_gcm_throughput_mb_s.*` and the key schedule's cost. */
export function sealThroughput(runs: number, ms: number): { figures: Record<string, number>; note: string } {
  const key = new Uint8Array(randomBytes(32));
  const out: Record<string, number> = {};
  const mirrorChacha: string[] = [];
  // 200 B: a push; 1 KiB: a small poll answer; 64 KiB: a full poll answer or bulk push frame.
  for (const [label, size] of [['1k', 1024], ['200b', 200], ['64k', 65536]] as const) {
    const pt = payload(size, size);
    const real: number[] = [];
    const aes: number[] = [];
    const chacha: number[] = [];
    for (let r = 0; r < runs; r++) {
      // Interleaved, so a slow moment of the shared machine hits all three alike.
      real.push(rate((s) => void openFrame(key, sealFrame(key, s, pt)), size, ms));
      aes.push(rate((s) => void mirrorOpen('aes-256-gcm', key, mirrorSeal('aes-256-gcm', key, s, pt)), size, ms));
      chacha.push(rate((s) => void mirrorOpen('chacha20-poly1305', key, mirrorSeal('chacha20-poly1305', key, s, pt)), size, ms));
    }
    out[`seal.throughput_mb_s.${label}`] = round(median(real), 1);
    out[`seal.aes_gcm_throughput_mb_s.${label}`] = round(median(aes), 1);
    out[`seal.aes_gcm_vs_chacha_ratio.${label}`] = round(median(aes) / median(chacha), 2);
    out[`seal.frames_per_s.${label}`] = Math.round((median(real) * 1e6) / size);
    mirrorChacha.push(`${label}: ChaCha20-Poly1305 in the mirror ${median(chacha).toFixed(1)} MB/s (sealFrame/openFrame ${median(real).toFixed(1)})`);
  }
  // Key schedule per handshake: one ephemeral key pair, X25519, HKDF (both directions).
  const peer = ephemeralFromSecret(new Uint8Array(randomBytes(32)));
  const hA = payload(120, 1);
  const hB = payload(120, 2);
  const ks: number[] = [];
  for (let r = 0; r < runs; r++) {
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < ms / 2) {
      const own = ephemeralFromSecret(new Uint8Array(randomBytes(32)));
      deriveSealKeys(hA, hB, own.secret, peer.publicKey);
      n++;
    }
    ks.push(((performance.now() - t0) * 1000) / n);
  }
  out['seal.key_schedule_us'] = round(median(ks), 1);
  return { figures: out, note: `Seal throughput, like-for-like mirror of the sealed frame layout: ${mirrorChacha.join('; ')}.` };
}
