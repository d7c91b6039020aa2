/**
 * The "Sealed links: cost" section of docs/BENCHMARKS.md: the seal suite's paired figures as one
 * table, unsealed and sealed side by side (both from the same run), with the ratio or difference.
 */

const fmt = (v: number | undefined): string => (v === undefined ? '–' : v.toLocaleString('en-US', { maximumFractionDigits: 4 }));

/** Rows: label, key of the off figure, key of the sealed figure, and how to compare them. */
const ROWS: [label: string, off: string, sealed: string, compare: 'ratio' | 'diff'][] = [
  ['one-command push, serial wire bytes', 'seal.wire_bytes.serial.off', 'seal.wire_bytes.serial.sealed', 'diff'],
  ['one-command push, TCP wire bytes', 'seal.wire_bytes.tcp.off', 'seal.wire_bytes.tcp.sealed', 'diff'],
  ['one-command push, MQTT payload bytes', 'seal.wire_bytes.mqtt_payload.off', 'seal.wire_bytes.mqtt_payload.sealed', 'diff'],
  ['one-command push, MQTT PUBLISH bytes', 'seal.wire_bytes.mqtt_publish.off', 'seal.wire_bytes.mqtt_publish.sealed', 'diff'],
  ['one-command push (50-byte payload), serial wire bytes (measured on the line)', 'seal.serial.push_wire_bytes.off', 'seal.serial.push_wire_bytes.sealed', 'diff'],
  ['serial push overhead on the line, bytes (measured)', 'seal.serial.push_overhead_bytes.off', 'seal.serial.push_overhead_bytes.sealed', 'diff'],
  ['push latency p50 TCP, ms', 'seal.push_p50_ms.tcp.off', 'seal.push_p50_ms.tcp.sealed', 'ratio'],
  ['push latency p99 TCP, ms', 'seal.push_p99_ms.tcp.off', 'seal.push_p99_ms.tcp.sealed', 'ratio'],
  ['push latency p50 Mosquitto, ms', 'seal.push_p50_ms.mosquitto.off', 'seal.push_p50_ms.mosquitto.sealed', 'ratio'],
  ['push latency p99 Mosquitto, ms', 'seal.push_p99_ms.mosquitto.off', 'seal.push_p99_ms.mosquitto.sealed', 'ratio'],
  ['serial bulk line utilization', 'seal.serial.line_utilization.off', 'seal.serial.line_utilization.sealed', 'ratio'],
  ['serial bulk link efficiency', 'seal.serial.link_efficiency.off', 'seal.serial.link_efficiency.sealed', 'ratio'],
  ['idle agent RSS, MB', 'seal.idle_rss_mb.off', 'seal.idle_rss_mb.sealed', 'diff'],
];

/** The section's markdown, or '' when the seal suite's figures are absent. */
export function sealSection(results: Record<string, number>): string {
  const rows = ROWS.filter(([, off, sealed]) => results[off] !== undefined || results[sealed] !== undefined).map(([label, off, sealed, compare]) => {
    const a = results[off];
    const b = results[sealed];
    const c = a === undefined || b === undefined ? '–' : compare === 'ratio' ? `× ${(b / a).toFixed(3)}` : `${b - a >= 0 ? '+' : ''}${fmt(Math.round((b - a) * 10) / 10)}`;
    return `| ${label} | ${fmt(a)} | ${fmt(b)} | ${c} |`;
  });
  if (rows.length === 0) return '';
  const sizes: Record<string, string> = { '200b': '200 B', '1k': '1 KiB', '64k': '64 KiB' };
  const tput = Object.keys(sizes)
    .filter((s) => results[`seal.throughput_mb_s.${s}`] !== undefined)
    .map((s) => `${sizes[s]} frames: ChaCha20-Poly1305 ${fmt(results[`seal.throughput_mb_s.${s}`])} MB/s (AES-256-GCM ${fmt(results[`seal.aes_gcm_throughput_mb_s.${s}`])})`)
    .join('; ');
  return `## Sealed links: cost (same run)

Unsealed (\`seal=off\` on both ends) and sealed (\`seal=require\`; serial \`seal=prefer\`, its default) measured side by side by the \`seal\` suite, runs interleaved. A sealed frame adds ${fmt(results['seal.bytes_per_frame_added'])} bytes (5-byte header, 16-byte tag).${tput ? ` Seal + open: ${tput}.` : ''}${results['seal.key_schedule_us'] !== undefined ? ` Key schedule per handshake: ${fmt(results['seal.key_schedule_us'])} µs.` : ''}

| | off | sealed | sealed vs off |
|---|---:|---:|---|
${rows.join('\n')}

`;
}
