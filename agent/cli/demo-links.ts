/** The demo's link settings: the simulated UARTs' line rate and the MQTT URLs of a broker. */

/** Line rate of the simulated UARTs. */
export const DEMO_BAUD = 115200;

/** `mqtt[s]://[user:pass@]host:port` → its listener and dialer URLs on a private topic prefix. */
export function mqttUrls(base: string, gatewayId: string, prefix: string): { listen: string; dial: string } {
  const u = new URL(base);
  if (u.protocol !== 'mqtt:' && u.protocol !== 'mqtts:') throw new Error(`--mqtt: expected mqtt://host:port or mqtts://host:port, got ${base}`);
  const auth = u.username !== '' ? `${u.username}${u.password !== '' ? `:${u.password}` : ''}@` : '';
  const hostPort = `${u.hostname}${u.port !== '' ? `:${u.port}` : ''}`;
  const scheme = u.protocol.slice(0, -1);
  return { listen: `${scheme}-listen://${auth}${hostPort}?prefix=${prefix}`, dial: `${scheme}://${auth}${hostPort}/${gatewayId}?prefix=${prefix}` };
}
