// Preloaded into Portkey's gateway (node --require) by run.sh.
// Portkey's start-server listens on every interface (it passes no hostname to
// server.listen); the benchmark must bind to loopback only, so a listen() call that
// names a port but no host is given 127.0.0.1.
'use strict';
const net = require('net');

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    if (args.length < 2 || args[1] === undefined || args[1] === null || typeof args[1] === 'function') {
      if (typeof args[1] === 'function') {
        args.splice(1, 0, '127.0.0.1');
      } else {
        args[1] = '127.0.0.1';
      }
    }
  } else if (args[0] && typeof args[0] === 'object' && !args[0].path && args[0].host === undefined) {
    args[0] = { ...args[0], host: '127.0.0.1' };
  }
  return listen.apply(this, args);
};
