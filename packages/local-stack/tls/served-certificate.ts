import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/**
 * The SHA-256 fingerprint ("AB:CD:…", as X509Certificate.fingerprint256) of the certificate a
 * PostgreSQL server presents to a new connection: SSLRequest, then a TLS handshake that
 * checks nothing (it only looks). For the stack to know when a reloaded certificate is live.
 */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

export function servedFingerprint(host: string, port: number, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TLS handshake with ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.once('error', fail);
    socket.once('connect', () => socket.write(SSL_REQUEST));
    socket.once('data', (answer) => {
      if (answer[0] !== 0x53) {
        fail(
          new Error(
            `${host}:${port} refused TLS (answered ${JSON.stringify(answer.toString('latin1', 0, 1))})`,
          ),
        );
        return;
      }
      const secure = tlsConnect({ socket, rejectUnauthorized: false }, () => {
        const fingerprint = secure.getPeerCertificate().fingerprint256;
        clearTimeout(timer);
        secure.destroy();
        resolve(fingerprint);
      });
      secure.once('error', fail);
    });
  });
}
