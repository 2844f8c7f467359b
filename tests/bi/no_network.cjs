// Preloaded (NODE_OPTIONS=--require) into every node process of the Evidence steps under
// test: any attempt to reach a host other than loopback is written to the file named by
// T212_NETWORK_LOG and refused at once, so a step that wants the network fails the test
// instead of passing on a machine that has internet or hanging on one that has none.
'use strict';
const dns = require('dns');
const fs = require('fs');
const net = require('net');

const LOG = process.env.T212_NETWORK_LOG;

function isLoopback(host) {
	if (host === undefined || host === null || host === '') return true; // net's default
	const name = String(host).replace(/^\[|\]$/g, '').toLowerCase();
	return name === 'localhost' || name === '::1' || name.startsWith('127.');
}

function refused(host, what) {
	if (LOG) fs.appendFileSync(LOG, `${what} ${host} (pid ${process.pid}: ${process.argv.slice(1, 3).join(' ')})\n`);
	return Object.assign(new Error(`getaddrinfo ENOTFOUND ${host} (no network in this test)`), {
		code: 'ENOTFOUND',
		hostname: host
	});
}

const realLookup = dns.lookup;
dns.lookup = function lookup(host, ...rest) {
	if (isLoopback(host)) return realLookup.call(this, host, ...rest);
	const callback = rest[rest.length - 1];
	const error = refused(host, 'lookup');
	process.nextTick(() => callback(error));
	return {};
};

const realPromisesLookup = dns.promises.lookup;
dns.promises.lookup = function lookup(host, ...rest) {
	if (isLoopback(host)) return realPromisesLookup.call(this, host, ...rest);
	return Promise.reject(refused(host, 'lookup'));
};

const realConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function connect(...args) {
	// net.connect passes its normalised arguments as an array; a direct call passes
	// (options) or (port, host)
	let options = Array.isArray(args[0]) ? args[0][0] : args[0];
	if (typeof options !== 'object' || options === null) {
		options = { port: args[0], host: typeof args[1] === 'string' ? args[1] : undefined };
	}
	if (options.path !== undefined || isLoopback(options.host)) {
		return realConnect.apply(this, args);
	}
	const error = refused(options.host, 'connect');
	process.nextTick(() => this.destroy(error));
	return this;
};
