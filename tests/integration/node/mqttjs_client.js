// A small MQTT.js command-line client for the transport tests (driven by
// tests/support/mqttjs.py). Prints one JSON object per line on stdout.
//
//   node mqttjs_client.js sub URL [--qos N] [--topic T]... [--will-topic T --will-payload P]
//                                 [--ca FILE] [--insecure] [--id ID] [--protocol-version 4|5]
//       events: {"event":"connected"}, {"event":"subscribed","granted":[...]},
//               {"event":"message","topic":...,"payload":...,"qos":...,"retain":...},
//               {"event":"error","error":...}, {"event":"close"}
//   node mqttjs_client.js pub URL --topic T --payload P [--qos N] [--retain] [...]
//       {"event":"connected"}, {"event":"published"} then exits 0 (exit 1 on error)
//   node mqttjs_client.js connect URL [...]   connects, prints connected, disconnects
'use strict';

const fs = require('fs');
const path = require('path');
const mqtt = require(path.join(__dirname, 'node_modules', 'mqtt'));

function parse(argv) {
  const o = { mode: argv[0], url: argv[1], topics: [], qos: 0, retain: false };
  for (let i = 2; i < argv.length; ++i) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--topic') o.topics.push(next());
    else if (a === '--payload') o.payload = next();
    else if (a === '--qos') o.qos = Number(next());
    else if (a === '--retain') o.retain = true;
    else if (a === '--will-topic') o.willTopic = next();
    else if (a === '--will-payload') o.willPayload = next();
    else if (a === '--will-qos') o.willQos = Number(next());
    else if (a === '--ca') o.ca = next();
    else if (a === '--cert') o.cert = next();
    else if (a === '--key') o.key = next();
    else if (a === '--insecure') o.insecure = true;
    else if (a === '--id') o.id = next();
    else if (a === '--protocol-version') o.protocolVersion = Number(next());
    else if (a === '--ws-protocol') o.wsProtocol = next();
    else throw new Error('unknown argument ' + a);
  }
  return o;
}

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const o = parse(process.argv.slice(2));
const options = {
  clientId: o.id || 'js-' + Math.random().toString(16).slice(2, 10),
  reconnectPeriod: 0,
  connectTimeout: 10000,
  protocolVersion: o.protocolVersion || 4,
  clean: true,
};
if (o.ca) options.ca = fs.readFileSync(o.ca);
if (o.cert) options.cert = fs.readFileSync(o.cert);
if (o.key) options.key = fs.readFileSync(o.key);
if (o.insecure) options.rejectUnauthorized = false;
if (o.willTopic) {
  options.will = { topic: o.willTopic, payload: o.willPayload || '', qos: o.willQos || 0, retain: false };
}
if (o.wsProtocol) options.wsOptions = { protocol: o.wsProtocol };

const client = mqtt.connect(o.url, options);
client.on('error', (err) => {
  out({ event: 'error', error: String(err && err.message ? err.message : err) });
  if (o.mode !== 'sub') process.exit(1);
});
client.on('close', () => out({ event: 'close' }));
client.on('message', (topic, payload, packet) => {
  out({ event: 'message', topic, payload: payload.toString('utf8'), qos: packet.qos, retain: !!packet.retain });
});
client.on('connect', () => {
  out({ event: 'connected' });
  if (o.mode === 'connect') {
    client.end(false, {}, () => process.exit(0));
  } else if (o.mode === 'pub') {
    client.publish(o.topics[0], o.payload || '', { qos: o.qos, retain: o.retain }, (err) => {
      if (err) {
        out({ event: 'error', error: String(err.message || err) });
        process.exit(1);
      }
      out({ event: 'published' });
      client.end(false, {}, () => process.exit(0));
    });
  } else if (o.mode === 'sub') {
    const subs = {};
    for (const t of o.topics) subs[t] = { qos: o.qos };
    client.subscribe(subs, (err, granted) => {
      if (err) {
        out({ event: 'error', error: String(err.message || err) });
        return;
      }
      out({ event: 'subscribed', granted: granted.map((g) => g.qos) });
    });
  }
});
// A subscriber stops when the test closes our stdin (or kills us).
if (o.mode === 'sub') {
  process.stdin.on('end', () => client.end(true, {}, () => process.exit(0)));
  process.stdin.resume();
}
setTimeout(() => process.exit(2), 120000).unref();
