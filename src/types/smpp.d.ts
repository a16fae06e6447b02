/**
 * The parts of the `smpp` package (0.5, untyped) that otpd uses: PDUs, a
 * client session and the server the tests build their SMSC with.
 */
declare module 'smpp' {
  import type { EventEmitter } from 'node:events';
  import type { Server as NetServer, Socket } from 'node:net';

  namespace smpp {
    /** A decoded `short_message` or `message_payload`: text per `data_coding`, UDH split off. */
    interface DecodedMessage {
      message: string | Buffer;
      udh?: Buffer[];
    }

    class PDU {
      constructor(command: string, fields?: Record<string, unknown>);
      command: string;
      command_id: number;
      command_length: number;
      command_status: number;
      sequence_number: number;
      message_id?: string;
      system_id?: string;
      password?: string;
      source_addr?: string;
      source_addr_ton?: number;
      source_addr_npi?: number;
      destination_addr?: string;
      esm_class?: number;
      data_coding?: number;
      registered_delivery?: number;
      short_message?: DecodedMessage | Buffer;
      message_payload?: DecodedMessage | Buffer;
      receipted_message_id?: string;
      message_state?: number;
      isResponse(): boolean;
      /** The answer to this PDU (same sequence number); `generic_nack` for an unknown command. */
      response(fields?: Record<string, unknown>): PDU;
      toBuffer(): Buffer;
      /** Fields and TLVs by name. */
      [field: string]: unknown;
    }

    class Session extends EventEmitter {
      socket: Socket;
      /** Writes a PDU; false when the socket is no longer writable. `onResponse` gets the answer with the same sequence number. */
      send(pdu: PDU, onResponse?: (response: PDU) => void, onSent?: (pdu: PDU) => void): boolean;
      /** Ends the socket gracefully. */
      close(callback?: () => void): void;
      destroy(callback?: () => void): void;
    }

    interface Server extends NetServer {
      sessions: Session[];
    }

    interface ConnectOptions {
      host: string;
      port: number;
    }

    /** Opens a TCP connection to an SMSC; `connect` is emitted once it is up. */
    function connect(options: ConnectOptions): Session;
    function createServer(listener: (session: Session) => void): Server;
    /** Command status names (`ESME_RTHROTTLED`) to their values. */
    const errors: Record<string, number>;
  }

  export = smpp;
}
