/**
 * otpd's /v1 API as TypeScript types, generated from the server's OpenAPI
 * document by packages/client/scripts/generate.ts (openapi-typescript).
 * Do not edit: run `npm run generate -w @otpd/client`.
 */
export interface paths {
    "/v1/otp/send": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Send a one-time code */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /**
                         * @description E.164 (+9779841234567), or national with the app's default_country
                         * @example +9779841234567
                         */
                        phone: string;
                        channel?: "sms" | "whatsapp" | "voice" | "rcs";
                        reference?: string;
                        /** @description Your own data, ≤ 4 KB as JSON */
                        metadata?: {
                            [key: string]: unknown;
                        };
                        code_type?: "numeric" | "alphanumeric" | "alphabetic";
                        code_length?: number;
                        /** @description seconds */
                        expiry?: number;
                        max_attempts?: number;
                        /** @description Template with {code}, {minutes}, {app} */
                        message?: string;
                        sender_id?: string;
                        locale?: string;
                        /** @description The end user's IP, for the ip_hour limit */
                        ip?: string;
                        /** @description Your own code (allow_custom_code) */
                        code?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {boolean} */
                            success: true;
                            /** OTP */
                            data: {
                                otp_id: string;
                                app_id: string;
                                /** @description E.164 */
                                phone: string;
                                country: string | null;
                                channel: "sms" | "whatsapp" | "voice" | "rcs";
                                status: "pending" | "verified" | "expired" | "canceled" | "max_attempts" | "failed";
                                reference: string | null;
                                metadata: {
                                    [key: string]: unknown;
                                } | null;
                                attempts: number;
                                max_attempts: number;
                                attempts_remaining: number;
                                send_count: number;
                                /** Format: date-time */
                                expires_at: string;
                                resend_available_at: string | null;
                                /** Format: date-time */
                                created_at: string;
                                verified_at: string | null;
                            };
                            request_id: string;
                        };
                    };
                };
                /** @description Default Response */
                "4XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
                /** @description Default Response */
                "5XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/otp/verify": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Check a code
         * @description By `otp_id`, or by `phone` (the phone's active OTP). Every call counts one attempt.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        otp_id?: string;
                        /**
                         * @description E.164 (+9779841234567), or national with the app's default_country
                         * @example +9779841234567
                         */
                        phone?: string;
                        /** @description What the user typed */
                        code: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {boolean} */
                            success: true;
                            data: {
                                /** @enum {boolean} */
                                verified: true;
                                otp_id: string;
                                phone: string;
                                /** @enum {string} */
                                status: "verified";
                                reference: string | null;
                                metadata: {
                                    [key: string]: unknown;
                                } | null;
                                /** Format: date-time */
                                verified_at: string;
                            };
                            request_id: string;
                        };
                    };
                };
                /** @description Default Response */
                "4XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
                /** @description Default Response */
                "5XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/otp/resend": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Send the same code again
         * @description After the resend cooldown; optionally on another channel. Never resets failed attempts.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        otp_id: string;
                        channel?: "sms" | "whatsapp" | "voice" | "rcs";
                        ip?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {boolean} */
                            success: true;
                            /** OTP */
                            data: {
                                otp_id: string;
                                app_id: string;
                                /** @description E.164 */
                                phone: string;
                                country: string | null;
                                channel: "sms" | "whatsapp" | "voice" | "rcs";
                                status: "pending" | "verified" | "expired" | "canceled" | "max_attempts" | "failed";
                                reference: string | null;
                                metadata: {
                                    [key: string]: unknown;
                                } | null;
                                attempts: number;
                                max_attempts: number;
                                attempts_remaining: number;
                                send_count: number;
                                /** Format: date-time */
                                expires_at: string;
                                resend_available_at: string | null;
                                /** Format: date-time */
                                created_at: string;
                                verified_at: string | null;
                            };
                            request_id: string;
                        };
                    };
                };
                /** @description Default Response */
                "4XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
                /** @description Default Response */
                "5XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/otp/{id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Cancel a pending code */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {boolean} */
                            success: true;
                            /** OTP */
                            data: {
                                otp_id: string;
                                app_id: string;
                                /** @description E.164 */
                                phone: string;
                                country: string | null;
                                channel: "sms" | "whatsapp" | "voice" | "rcs";
                                status: "pending" | "verified" | "expired" | "canceled" | "max_attempts" | "failed";
                                reference: string | null;
                                metadata: {
                                    [key: string]: unknown;
                                } | null;
                                attempts: number;
                                max_attempts: number;
                                attempts_remaining: number;
                                send_count: number;
                                /** Format: date-time */
                                expires_at: string;
                                resend_available_at: string | null;
                                /** Format: date-time */
                                created_at: string;
                                verified_at: string | null;
                            };
                            request_id: string;
                        };
                    };
                };
                /** @description Default Response */
                "4XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
                /** @description Default Response */
                "5XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/otp/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Status of one OTP, with each delivery and its status */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {boolean} */
                            success: true;
                            /** OTPDetail */
                            data: {
                                otp_id: string;
                                app_id: string;
                                /** @description E.164 */
                                phone: string;
                                country: string | null;
                                channel: "sms" | "whatsapp" | "voice" | "rcs";
                                status: "pending" | "verified" | "expired" | "canceled" | "max_attempts" | "failed";
                                reference: string | null;
                                metadata: {
                                    [key: string]: unknown;
                                } | null;
                                attempts: number;
                                max_attempts: number;
                                attempts_remaining: number;
                                send_count: number;
                                /** Format: date-time */
                                expires_at: string;
                                resend_available_at: string | null;
                                /** Format: date-time */
                                created_at: string;
                                verified_at: string | null;
                                delivery_status: ("queued" | "sending" | "sent" | "delivered" | "failed" | "unknown") | null;
                                deliveries: {
                                    message_id: string;
                                    otp_id: string | null;
                                    kind: "otp" | "sms";
                                    channel: "sms" | "whatsapp" | "voice" | "rcs";
                                    /** @description E.164 */
                                    phone: string;
                                    /** @description queued → sending → sent → delivered | failed; unknown: the provider may have it, waiting for its receipt */
                                    status: "queued" | "sending" | "sent" | "delivered" | "failed" | "unknown";
                                    provider: string | null;
                                    provider_message_id: string | null;
                                    error: string | null;
                                    tries: number;
                                    segments: number | null;
                                    /** Format: date-time */
                                    created_at: string;
                                    sent_at: string | null;
                                    delivered_at: string | null;
                                    failed_at: string | null;
                                }[];
                            };
                            request_id: string;
                        };
                    };
                };
                /** @description Default Response */
                "4XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
                /** @description Default Response */
                "5XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/otp/{id}/attempts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Verification attempts of one OTP */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {boolean} */
                            success: true;
                            data: {
                                otp_id: string;
                                attempts: number;
                                max_attempts: number;
                                items: {
                                    id: string;
                                    outcome: "correct" | "incorrect";
                                    /** Format: date-time */
                                    created_at: string;
                                }[];
                            };
                            request_id: string;
                        };
                    };
                };
                /** @description Default Response */
                "4XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
                /** @description Default Response */
                "5XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/otp": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List OTPs, newest first */
        get: {
            parameters: {
                query?: {
                    status?: "pending" | "verified" | "expired" | "canceled" | "max_attempts" | "failed";
                    /**
                     * @description E.164 (+9779841234567), or national with the app's default_country
                     * @example +9779841234567
                     */
                    phone?: string;
                    reference?: string;
                    from?: string;
                    to?: string;
                    limit?: number;
                    cursor?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {boolean} */
                            success: true;
                            data: {
                                items: {
                                    otp_id: string;
                                    app_id: string;
                                    /** @description E.164 */
                                    phone: string;
                                    country: string | null;
                                    channel: "sms" | "whatsapp" | "voice" | "rcs";
                                    status: "pending" | "verified" | "expired" | "canceled" | "max_attempts" | "failed";
                                    reference: string | null;
                                    metadata: {
                                        [key: string]: unknown;
                                    } | null;
                                    attempts: number;
                                    max_attempts: number;
                                    attempts_remaining: number;
                                    send_count: number;
                                    /** Format: date-time */
                                    expires_at: string;
                                    resend_available_at: string | null;
                                    /** Format: date-time */
                                    created_at: string;
                                    verified_at: string | null;
                                }[];
                                next_cursor: string | null;
                            };
                            request_id: string;
                        };
                    };
                };
                /** @description Default Response */
                "4XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
                /** @description Default Response */
                "5XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/logs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The app's activity log, newest first */
        get: {
            parameters: {
                query?: {
                    type?: string;
                    otp_id?: string;
                    from?: string;
                    to?: string;
                    limit?: number;
                    cursor?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {boolean} */
                            success: true;
                            data: {
                                items: {
                                    id: string;
                                    type: string;
                                    app_id: string | null;
                                    otp_id: string | null;
                                    key_id: string | null;
                                    detail: {
                                        [key: string]: unknown;
                                    };
                                    /** Format: date-time */
                                    created_at: string;
                                }[];
                                next_cursor: string | null;
                            };
                            request_id: string;
                        };
                    };
                };
                /** @description Default Response */
                "4XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
                /** @description Default Response */
                "5XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/rate-limits": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Limits with what remains and when each window resets */
        get: {
            parameters: {
                query?: {
                    phone?: string;
                    ip?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {boolean} */
                            success: true;
                            data: {
                                limits: {
                                    scope: string;
                                    max: number;
                                    /** @description seconds */
                                    window: number;
                                    remaining: number;
                                    reset_at: string | null;
                                }[];
                                /** @description seconds */
                                resend_cooldown: number;
                            };
                            request_id: string;
                        };
                    };
                };
                /** @description Default Response */
                "4XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
                /** @description Default Response */
                "5XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/messages/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Status of one message: provider, provider id, error and timings */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {boolean} */
                            success: true;
                            /** Message */
                            data: {
                                message_id: string;
                                otp_id: string | null;
                                kind: "otp" | "sms";
                                channel: "sms" | "whatsapp" | "voice" | "rcs";
                                /** @description E.164 */
                                phone: string;
                                /** @description queued → sending → sent → delivered | failed; unknown: the provider may have it, waiting for its receipt */
                                status: "queued" | "sending" | "sent" | "delivered" | "failed" | "unknown";
                                provider: string | null;
                                provider_message_id: string | null;
                                error: string | null;
                                tries: number;
                                segments: number | null;
                                /** Format: date-time */
                                created_at: string;
                                sent_at: string | null;
                                delivered_at: string | null;
                                failed_at: string | null;
                            };
                            request_id: string;
                        };
                    };
                };
                /** @description Default Response */
                "4XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
                /** @description Default Response */
                "5XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/templates": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The account's templates, newest first */
        get: {
            parameters: {
                query?: {
                    /** @description pending → approved | rejected; any → deleted. Only approved templates can be sent. */
                    status?: "pending" | "approved" | "rejected" | "deleted";
                    limit?: number;
                    cursor?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {boolean} */
                            success: true;
                            data: {
                                items: {
                                    template_id: string;
                                    account_id: string;
                                    /** @description The app whose key submitted it */
                                    app_id: string;
                                    name: string;
                                    /** @description Text with {{variable}} placeholders */
                                    body: string;
                                    use_case: string;
                                    /** @description Variable names, in order of first use */
                                    variables: string[];
                                    /** @description pending → approved | rejected; any → deleted. Only approved templates can be sent. */
                                    status: "pending" | "approved" | "rejected" | "deleted";
                                    rejection_reason: string | null;
                                    /** Format: date-time */
                                    created_at: string;
                                    reviewed_at: string | null;
                                    deleted_at: string | null;
                                }[];
                                next_cursor: string | null;
                            };
                            request_id: string;
                        };
                    };
                };
                /** @description Default Response */
                "4XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
                /** @description Default Response */
                "5XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
            };
        };
        put?: never;
        /**
         * Submit a template for review
         * @description Starts `pending`; an operator approves or rejects it. Approved templates never change: to change one, submit a new one. At most 20 pending or approved per account.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @example Order shipped */
                        name: string;
                        /**
                         * @description {{variable}} placeholders (lowercase letters, digits, _; starting with a letter; ≤ 32). No links or URLs.
                         * @example Your order {{order_id}} has been shipped. Expected delivery: {{delivery_date}}.
                         */
                        body: string;
                        /**
                         * @description What the messages are for, for the reviewer
                         * @example Shipping notice after an order leaves the warehouse
                         */
                        use_case: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {boolean} */
                            success: true;
                            /** Template */
                            data: {
                                template_id: string;
                                account_id: string;
                                /** @description The app whose key submitted it */
                                app_id: string;
                                name: string;
                                /** @description Text with {{variable}} placeholders */
                                body: string;
                                use_case: string;
                                /** @description Variable names, in order of first use */
                                variables: string[];
                                /** @description pending → approved | rejected; any → deleted. Only approved templates can be sent. */
                                status: "pending" | "approved" | "rejected" | "deleted";
                                rejection_reason: string | null;
                                /** Format: date-time */
                                created_at: string;
                                reviewed_at: string | null;
                                deleted_at: string | null;
                            };
                            request_id: string;
                        };
                    };
                };
                /** @description Default Response */
                "4XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
                /** @description Default Response */
                "5XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/templates/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One template */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {boolean} */
                            success: true;
                            /** Template */
                            data: {
                                template_id: string;
                                account_id: string;
                                /** @description The app whose key submitted it */
                                app_id: string;
                                name: string;
                                /** @description Text with {{variable}} placeholders */
                                body: string;
                                use_case: string;
                                /** @description Variable names, in order of first use */
                                variables: string[];
                                /** @description pending → approved | rejected; any → deleted. Only approved templates can be sent. */
                                status: "pending" | "approved" | "rejected" | "deleted";
                                rejection_reason: string | null;
                                /** Format: date-time */
                                created_at: string;
                                reviewed_at: string | null;
                                deleted_at: string | null;
                            };
                            request_id: string;
                        };
                    };
                };
                /** @description Default Response */
                "4XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
                /** @description Default Response */
                "5XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /**
         * Delete a template
         * @description It can no longer be sent and frees its slot; it stays readable with status `deleted`.
         */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {boolean} */
                            success: true;
                            /** Template */
                            data: {
                                template_id: string;
                                account_id: string;
                                /** @description The app whose key submitted it */
                                app_id: string;
                                name: string;
                                /** @description Text with {{variable}} placeholders */
                                body: string;
                                use_case: string;
                                /** @description Variable names, in order of first use */
                                variables: string[];
                                /** @description pending → approved | rejected; any → deleted. Only approved templates can be sent. */
                                status: "pending" | "approved" | "rejected" | "deleted";
                                rejection_reason: string | null;
                                /** Format: date-time */
                                created_at: string;
                                reviewed_at: string | null;
                                deleted_at: string | null;
                            };
                            request_id: string;
                        };
                    };
                };
                /** @description Default Response */
                "4XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
                /** @description Default Response */
                "5XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/sms/send": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Send a transactional SMS from an approved template
         * @description Limits: sms_phone_template_hour (3 per phone and template per hour), sms_key_day (1,000 per key per 24 h).
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description E.164 (+9779841234567), or national with the app's default_country */
                        phone: string;
                        /** @description An approved template (tpl_…) */
                        template_id: string;
                        /**
                         * @description Every variable of the template, each a string or number of ≤ 128 characters without links or control characters
                         * @example {
                         *       "order_id": "ORD-2024-0847",
                         *       "delivery_date": "Jan 18, 2024"
                         *     }
                         */
                        variables?: {
                            [key: string]: unknown;
                        };
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {boolean} */
                            success: true;
                            data: {
                                /** @description Follow it with GET /v1/messages/{id} */
                                message_id: string;
                                /** @enum {string} */
                                status: "queued";
                                /** @description E.164 */
                                phone: string;
                                template_id: string;
                                /** Format: date-time */
                                created_at: string;
                            };
                            request_id: string;
                        };
                    };
                };
                /** @description Default Response */
                "4XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
                /** @description Default Response */
                "5XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/balance": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The account's balance, held funds and low-balance threshold */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {boolean} */
                            success: true;
                            /** Balance */
                            data: {
                                account_id: string;
                                /** @description What the account can spend now (micro-units) */
                                balance: number;
                                currency: string;
                                /** @description Held for messages in flight: captured when delivered, released when they fail (micro-units) */
                                held: number;
                                /** @description balance.low fires when the balance falls below this; 0 = never (micro-units) */
                                low_balance_threshold: number;
                            };
                            request_id: string;
                        };
                    };
                };
                /** @description Default Response */
                "4XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
                /** @description Default Response */
                "5XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/ledger": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The account's ledger, newest first
         * @description Every movement of money: top-ups, holds, captures, releases, refunds, adjustments. The sum of `amount` over all entries is the balance.
         */
        get: {
            parameters: {
                query?: {
                    type?: "topup" | "trial" | "adjustment" | "hold" | "capture" | "release" | "refund";
                    limit?: number;
                    cursor?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {boolean} */
                            success: true;
                            data: {
                                items: {
                                    id: string;
                                    type: "topup" | "trial" | "adjustment" | "hold" | "capture" | "release" | "refund";
                                    /** @description Change to the balance (micro-units) */
                                    amount: number;
                                    /** @description Change to the held funds (micro-units) */
                                    held_change: number;
                                    /** @description The balance right after this entry (micro-units) */
                                    balance_after: number;
                                    /** @description Your top-up reference, or the message id of a charge */
                                    reference: string;
                                    note: string | null;
                                    app_id: string | null;
                                    /** Format: date-time */
                                    created_at: string;
                                }[];
                                next_cursor: string | null;
                            };
                            request_id: string;
                        };
                    };
                };
                /** @description Default Response */
                "4XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
                /** @description Default Response */
                "5XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/prices": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * What messages cost, in the account’s currency
         * @description Per message, per segment for SMS. A country without its own price pays the `*` price of the channel; a channel with neither is free. Sandbox is always free.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {boolean} */
                            success: true;
                            data: {
                                currency: string;
                                items: {
                                    currency: string;
                                    channel: "sms" | "whatsapp" | "voice" | "rcs";
                                    /** @description ISO 3166-1 alpha-2, or * for every other country */
                                    country: string;
                                    /** @description Price per unit (micro-units) */
                                    price: number;
                                    unit: "segment" | "message";
                                    /** Format: date-time */
                                    updated_at: string;
                                }[];
                            };
                            request_id: string;
                        };
                    };
                };
                /** @description Default Response */
                "4XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
                /** @description Default Response */
                "5XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/reports/usage": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The app's usage: sent, delivered, failed, verified, conversion and cost
         * @description For [from, to) (default: the last 30 days; at most 400 days), grouped by UTC day, country or channel.
         */
        get: {
            parameters: {
                query?: {
                    from?: string;
                    to?: string;
                    group_by?: "day" | "country" | "channel";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {boolean} */
                            success: true;
                            /** UsageReport */
                            data: {
                                app_id: string;
                                /** Format: date-time */
                                from: string;
                                /** Format: date-time */
                                to: string;
                                group_by: "day" | "country" | "channel";
                                currency: string;
                                totals: {
                                    /** @description OTPs created (send requests; resends are not new OTPs) */
                                    sent: number;
                                    /** @description Of those OTPs, delivered on some channel */
                                    delivered: number;
                                    /** @description Of those OTPs, undeliverable on every channel */
                                    failed: number;
                                    /** @description Of those OTPs, verified */
                                    verified: number;
                                    conversion_rate: number | null;
                                    /** @description Messages: sends, resends, fallbacks and template SMS */
                                    messages: number;
                                    /** @description What those messages cost (captured) (micro-units) */
                                    cost: number;
                                    /** @description What those messages still hold (micro-units) */
                                    held: number;
                                };
                                items: {
                                    key: string | null;
                                    /** @description OTPs created (send requests; resends are not new OTPs) */
                                    sent: number;
                                    /** @description Of those OTPs, delivered on some channel */
                                    delivered: number;
                                    /** @description Of those OTPs, undeliverable on every channel */
                                    failed: number;
                                    /** @description Of those OTPs, verified */
                                    verified: number;
                                    conversion_rate: number | null;
                                    /** @description Messages: sends, resends, fallbacks and template SMS */
                                    messages: number;
                                    /** @description What those messages cost (captured) (micro-units) */
                                    cost: number;
                                    /** @description What those messages still hold (micro-units) */
                                    held: number;
                                }[];
                            };
                            request_id: string;
                        };
                    };
                };
                /** @description Default Response */
                "4XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
                /** @description Default Response */
                "5XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorEnvelope"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /** Error */
        ErrorEnvelope: {
            /** @enum {boolean} */
            success: false;
            error: {
                code: "INVALID_REQUEST" | "INVALID_JSON" | "INVALID_PHONE_FORMAT" | "INVALID_OTP" | "OTP_EXPIRED" | "OTP_CANCELED" | "OTP_DELIVERY_FAILED" | "MAX_ATTEMPTS_EXCEEDED" | "MISSING_VARIABLE" | "UNKNOWN_VARIABLE" | "INVALID_VARIABLE" | "INVALID_API_KEY" | "INVALID_ADMIN_TOKEN" | "INVALID_SIGNATURE" | "INSUFFICIENT_BALANCE" | "COUNTRY_NOT_ALLOWED" | "ENVIRONMENT_MISMATCH" | "UNSUPPORTED_CHANNEL" | "NOT_FOUND" | "OTP_NOT_FOUND" | "TEMPLATE_NOT_FOUND" | "ACTIVE_OTP_EXISTS" | "OTP_ALREADY_VERIFIED" | "IDEMPOTENCY_CONFLICT" | "API_KEY_LIMIT_REACHED" | "TEMPLATE_LIMIT_REACHED" | "TEMPLATE_NOT_PENDING" | "PAYLOAD_TOO_LARGE" | "UNSUPPORTED_MEDIA_TYPE" | "IDEMPOTENCY_KEY_REUSED" | "RATE_LIMIT_EXCEEDED" | "SESSION_REQUIRED" | "INVALID_CREDENTIALS" | "INVALID_SECOND_FACTOR" | "INVALID_LINK" | "CSRF_TOKEN_INVALID" | "EMAIL_NOT_VERIFIED" | "SECOND_FACTOR_REQUIRED" | "FORBIDDEN" | "SIGNUP_CLOSED" | "LIVE_MODE_NOT_APPROVED" | "TWO_FACTOR_ALREADY_ENABLED" | "INTERNAL_ERROR" | "SERVICE_UNAVAILABLE";
                message: string;
                field?: string;
                attempts_remaining?: number;
                retry_after?: number;
                otp_id?: string;
                scope?: string;
                resend_available_at?: string;
            };
            request_id: string;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export type operations = Record<string, never>;
