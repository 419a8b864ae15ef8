// Live updates: the server's change stream (Server-Sent Events over a
// fetch with the user's token; EventSource cannot send one). The server
// sends only the events the user may read. Reconnects with backoff.
import {token} from './auth.js';
import {V, withVersion} from './api.js';

let ctl = null;

export function stop() {
  ctl?.abort();
  ctl = null;
}

export function start(onEvent, onState) {
  stop();
  const my = new AbortController();
  ctl = my;
  (async () => {
    let wait = 500;
    while (!my.signal.aborted) {
      try {
        const tok = await token();
        if (!tok) return;
        const r = await fetch(withVersion('/providers/Mlgov.Governance/changes', V.governance),
          {headers: {Authorization: 'Bearer ' + tok, Accept: 'text/event-stream'}, signal: my.signal, cache: 'no-store'});
        if (!r.ok || !r.body) throw new Error('stream ' + r.status);
        onState('on');
        wait = 500;
        await read(r.body, onEvent, my.signal);
      } catch (e) {
        if (my.signal.aborted) return;
      }
      onState('off');
      await new Promise(res => setTimeout(res, wait));
      wait = Math.min(wait * 2, 15000);
    }
  })();
}

async function read(body, onEvent, signal) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  while (!signal.aborted) {
    const {value, done} = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i).replace(/^\r?\n\r?\n/, '');
      const data = block.split(/\r?\n/).filter(l => l.startsWith('data:')).map(l => l.slice(5).trimStart()).join('\n');
      if (!data) continue;
      try {
        onEvent(JSON.parse(data));
      } catch {
        // a line that is not an event of ours: ignored
      }
    }
  }
}
