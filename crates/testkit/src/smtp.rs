//! A local SMTP server that accepts every message and keeps it, for tests of mail-sending flows
//! (password reset, e-mail change). It speaks just enough of RFC 5321 for a client to deliver.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// Headers and body as received, dot-stuffing undone.
    pub data: String,
}

pub struct SmtpSink {
    pub url: String,
    mails: Arc<Mutex<Vec<Mail>>>,
    shutdown: CancellationToken,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl SmtpSink {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("smtp://{}", listener.local_addr()?);
        let mails = Arc::new(Mutex::new(Vec::new()));
        let shutdown = CancellationToken::new();
        let accepted = Arc::clone(&mails);
        let stop = shutdown.clone();
        tokio::spawn(async move {
            loop {
                let connection = tokio::select! {
                    () = stop.cancelled() => break,
                    connection = listener.accept() => connection,
                };
                if let Ok((stream, _)) = connection {
                    tokio::spawn(session(stream, Arc::clone(&accepted)));
                }
            }
        });
        Ok(Self { url, mails, shutdown })
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().map(|mails| mails.clone()).unwrap_or_default()
    }

    /// The mails received so far for `recipient`.
    pub fn mails_to(&self, recipient: &str) -> Vec<Mail> {
        self.mails().into_iter().filter(|mail| mail.to.iter().any(|to| to == recipient)).collect()
    }

    /// Waits up to `timeout` for a mail to `recipient`.
    pub async fn wait_for(&self, recipient: &str, timeout: Duration) -> Option<Mail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(mail) = self.mails_to(recipient).into_iter().next() {
                return Some(mail);
            }
            if tokio::time::Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn address_of(argument: &str) -> String {
    argument.trim().trim_start_matches('<').split('>').next().unwrap_or_default().to_owned()
}

async fn session(stream: TcpStream, mails: Arc<Mutex<Vec<Mail>>>) -> std::io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    writer.write_all(b"220 causerie-test-smtp ready\r\n").await?;
    let mut mail = Mail::default();
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250 causerie-test-smtp\r\n"
        } else if let Some(argument) = upper.strip_prefix("MAIL FROM:").map(|_| &line[10..]) {
            mail = Mail { from: address_of(argument), ..Mail::default() };
            b"250 ok\r\n"
        } else if upper.starts_with("RCPT TO:") {
            mail.to.push(address_of(&line[8..]));
            b"250 ok\r\n"
        } else if upper == "DATA" {
            writer.write_all(b"354 end with .\r\n").await?;
            let mut data = String::new();
            while let Some(data_line) = lines.next_line().await? {
                if data_line == "." {
                    break;
                }
                data.push_str(data_line.strip_prefix('.').unwrap_or(&data_line));
                data.push('\n');
            }
            mail.data = data;
            if let Ok(mut kept) = mails.lock() {
                kept.push(std::mem::take(&mut mail));
            }
            b"250 queued\r\n"
        } else if upper == "QUIT" {
            writer.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"250 ok\r\n"
        };
        writer.write_all(reply).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_what_a_client_delivers() {
        let sink = SmtpSink::start().await.unwrap();
        let address = sink.url.trim_start_matches("smtp://").to_owned();
        let stream = TcpStream::connect(address).await.unwrap();
        let (reader, mut writer) = stream.into_split();
        let mut lines = BufReader::new(reader).lines();
        let mut expect = async |code: &str| {
            let line = lines.next_line().await.unwrap().unwrap();
            assert!(line.starts_with(code), "{line}");
        };
        expect("220").await;
        for (command, code) in [
            ("EHLO client\r\n", "250"),
            ("MAIL FROM:<noreply@causerie.test>\r\n", "250"),
            ("RCPT TO:<ada@example.org>\r\n", "250"),
            ("DATA\r\n", "354"),
            ("Subject: hello\r\n\r\n..dot\r\n.\r\n", "250"),
            ("QUIT\r\n", "221"),
        ] {
            writer.write_all(command.as_bytes()).await.unwrap();
            expect(code).await;
        }
        let mail = sink.wait_for("ada@example.org", Duration::from_secs(2)).await.unwrap();
        assert_eq!(mail.from, "noreply@causerie.test");
        assert!(mail.data.contains("Subject: hello"));
        assert!(mail.data.contains("\n.dot\n"));
    }
}
