//! Text-to-speech, a sub-processor the tenant's policy chooses (`subprocessors.tts`): `local`
//! runs espeak-ng on the assistant's own machine; `acapela` asks Acapela's hosted voice service
//! (VaaS, hosted in Europe). Both answer WAV.

use std::time::Duration;

use causerie_core::Error;
use tokio::io::AsyncWriteExt;

/// A generous bound on one answer's audio: espeak-ng speaks 10,000 characters in well under this.
const SYNTHESIS_TIMEOUT: Duration = Duration::from_secs(20);

pub trait Speech: Send + Sync {
    /// WAV audio of `text` spoken in `language` (such as `fr`).
    fn speak(&self, text: &str, language: &str) -> impl Future<Output = Result<Vec<u8>, Error>> + Send;
}

/// espeak-ng, run as a child process: nothing leaves the machine.
#[derive(Clone, Default)]
pub struct LocalSpeech;

impl Speech for LocalSpeech {
    async fn speak(&self, text: &str, language: &str) -> Result<Vec<u8>, Error> {
        let mut child = tokio::process::Command::new("espeak-ng")
            .args(["--stdout", "-v", voice(language), "--stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| {
                tracing::error!(%error, "espeak-ng could not be started");
                Error::unavailable("text-to-speech is unavailable")
            })?;
        let mut stdin = child.stdin.take().ok_or_else(|| Error::internal("espeak-ng has no stdin"))?;
        // The text goes in through stdin, never the command line: no argument is read from it.
        let written = async move {
            stdin.write_all(text.as_bytes()).await?;
            stdin.shutdown().await
        };
        let (written, output) =
            tokio::time::timeout(SYNTHESIS_TIMEOUT, async { tokio::join!(written, child.wait_with_output()) })
                .await
                .map_err(|_| Error::unavailable("text-to-speech took too long"))?;
        written.map_err(Error::internal)?;
        let output = output.map_err(Error::internal)?;
        if !output.status.success() {
            tracing::error!(status = %output.status, "espeak-ng failed");
            return Err(Error::unavailable("text-to-speech failed"));
        }
        Ok(with_sizes(output.stdout))
    }
}

/// espeak-ng's voice for a language code; English when it has none of its own here.
fn voice(language: &str) -> &'static str {
    match language {
        "fr" => "fr",
        "de" => "de",
        "es" => "es",
        "it" => "it",
        "nl" => "nl",
        "pt" => "pt",
        _ => "en",
    }
}

/// espeak-ng streams its WAV, so the header's sizes say "unknown" (0x7fffffff): some players stop
/// at once. The whole file is here; its sizes are written in.
fn with_sizes(mut wav: Vec<u8>) -> Vec<u8> {
    if wav.len() >= 44 && wav.starts_with(b"RIFF") && &wav[36..40] == b"data" {
        let riff = u32::try_from(wav.len() - 8).unwrap_or(u32::MAX);
        let data = u32::try_from(wav.len() - 44).unwrap_or(u32::MAX);
        wav[4..8].copy_from_slice(&riff.to_le_bytes());
        wav[40..44].copy_from_slice(&data.to_le_bytes());
    }
    wav
}

/// Acapela's voice-as-a-service HTTP API: a form `POST` to its synthesizer URL
/// (`CAUSERIE_ACAPELA_URL`, such as `https://vaas.acapela-group.com/Services/Synthesizer`) with the
/// account's credentials, the voice and the text, answering the WAV (`req_asw_type=SOUND`).
#[derive(Clone)]
pub struct AcapelaSpeech {
    http: reqwest::Client,
    url: String,
    login: String,
    password: String,
}

impl AcapelaSpeech {
    pub fn new(http: reqwest::Client, url: &str, login: &str, password: &str) -> Self {
        Self { http, url: url.to_owned(), login: login.to_owned(), password: password.to_owned() }
    }

    fn configured(&self) -> Result<(), Error> {
        if self.url.is_empty() || self.login.is_empty() || self.password.is_empty() {
            return Err(Error::unavailable(
                "Acapela is not configured on this platform (CAUSERIE_ACAPELA_URL, _LOGIN, _PASSWORD)",
            ));
        }
        Ok(())
    }
}

/// Acapela's voice for a language code.
fn acapela_voice(language: &str) -> &'static str {
    match language {
        "fr" => "alice22k",
        "de" => "andreas22k",
        "es" => "ines22k",
        "it" => "chiara22k",
        _ => "rachel22k",
    }
}

impl Speech for AcapelaSpeech {
    async fn speak(&self, text: &str, language: &str) -> Result<Vec<u8>, Error> {
        self.configured()?;
        let form = [
            ("prot_vers", "2"),
            ("cl_env", "LINUX"),
            ("cl_vers", "1-30"),
            ("cl_app", "causerie"),
            ("cl_login", self.login.as_str()),
            ("cl_pwd", self.password.as_str()),
            ("req_voice", acapela_voice(language)),
            ("req_text", text),
            ("req_asw_type", "SOUND"),
            ("req_snd_type", "WAV"),
        ];
        let answer =
            self.http.post(&self.url).form(&form).timeout(SYNTHESIS_TIMEOUT).send().await.map_err(|error| {
                tracing::warn!(%error, "Acapela unreachable");
                Error::unavailable("text-to-speech is unavailable")
            })?;
        if !answer.status().is_success() {
            tracing::warn!(status = %answer.status(), "Acapela refused");
            return Err(Error::unavailable("text-to-speech failed"));
        }
        Ok(answer.bytes().await.map_err(|_| Error::unavailable("text-to-speech failed"))?.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streamed_wav_gets_its_real_sizes() {
        let mut wav = b"RIFF\xff\xff\xff\x7fWAVEfmt ".to_vec();
        wav.extend([0u8; 20]);
        wav.extend(b"data\xff\xff\xff\x7f");
        wav.extend([1u8; 10]);
        let fixed = with_sizes(wav);
        assert_eq!(u32::from_le_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]), 46);
        assert_eq!(u32::from_le_bytes([fixed[40], fixed[41], fixed[42], fixed[43]]), 10);
    }
}
