//! Who is told what when an event happens: the notifier's rules, pure.
//!
//! [`notices`] turns one event into the notices it calls for, each naming an
//! audience (a caregiver, whoever is on call, a client's opted-in contacts), a
//! template and whether it is urgent (urgent ones go out in quiet hours).
//! [`render`] writes a template in English or Spanish from [`Facts`] that hold
//! nothing a lost phone should not show: the client's first name and last
//! initial, the visit's local time, and a link into the app. The notifier
//! (`homecare-notifier`) resolves audiences to people and channels from the
//! database.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::events::{Event, VisitSummary};

/// Who a notice is for, before the database says which people that is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    /// A caregiver (the user signed in as them).
    Caregiver(Uuid),
    /// The coordinator on call when the event happened (the rota).
    OnCall,
    /// A client's contacts who opted in to visit news.
    ClientContacts(Uuid),
    /// Whom the rota escalates to from whoever is on call (an admin).
    Escalation,
}

/// The ways a message goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    Push,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Push => "push",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Email, Self::Sms, Self::Push]
            .into_iter()
            .find(|c| c.as_str() == name)
    }
}

/// One message's kind; its wording is in [`render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Template {
    /// A caregiver was booked on a visit.
    Assigned,
    /// A visit was taken off a caregiver (someone else has it, or nobody yet).
    ReassignedAway,
    VisitCancelled,
    VisitRescheduled,
    /// On call: nobody could be booked on a visit.
    Unfilled,
    /// On call: the caregiver has not checked in.
    LateCheckIn,
    /// On call: the missed check-out timer closed a visit.
    MissedCheckOut,
    /// On call: a completed visit's billing is held by EVV exceptions.
    Held,
    /// Escalation: an unfilled visit nobody filled in time.
    Escalated,
    /// A client's contact: the caregiver arrived.
    CheckedIn,
    /// A client's contact: the caregiver left.
    CheckedOut,
    /// A person asked to prove they read their e-mail address (`Facts::link`
    /// is the verification link; the visit facts are empty).
    VerifyEmail,
}

impl Template {
    pub const ALL: &'static [Template] = &[
        Self::Assigned,
        Self::ReassignedAway,
        Self::VisitCancelled,
        Self::VisitRescheduled,
        Self::Unfilled,
        Self::LateCheckIn,
        Self::MissedCheckOut,
        Self::Held,
        Self::Escalated,
        Self::CheckedIn,
        Self::CheckedOut,
        Self::VerifyEmail,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Assigned => "assigned",
            Self::ReassignedAway => "reassigned_away",
            Self::VisitCancelled => "visit_cancelled",
            Self::VisitRescheduled => "visit_rescheduled",
            Self::Unfilled => "unfilled",
            Self::LateCheckIn => "late_check_in",
            Self::MissedCheckOut => "missed_check_out",
            Self::Held => "held",
            Self::Escalated => "escalated",
            Self::CheckedIn => "checked_in",
            Self::CheckedOut => "checked_out",
            Self::VerifyEmail => "verify_email",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| t.as_str() == name)
    }
}

/// One message an event calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub audience: Audience,
    pub template: Template,
    /// Sent even in the recipient's quiet hours.
    pub urgent: bool,
    pub visit_id: Uuid,
    pub client_id: Uuid,
    pub scheduled_start: DateTime<Utc>,
}

/// A change to a caregiver's visit is urgent when the visit starts within
/// this long of the change (the "same-day reassignment" case).
pub const URGENT_WITHIN: Duration = Duration::hours(24);

/// The notices `event`, which happened at `at`, calls for.
pub fn notices(event: &Event, at: DateTime<Utc>) -> Vec<Notice> {
    let notice = |visit: &VisitSummary, audience, template, urgent| Notice {
        audience,
        template,
        urgent,
        visit_id: visit.visit_id,
        client_id: visit.client_id,
        scheduled_start: visit.scheduled_start,
    };
    let soon = |visit: &VisitSummary| visit.scheduled_start - at <= URGENT_WITHIN;
    let caregiver = |visit: &VisitSummary, template| {
        visit
            .caregiver_id
            .map(|id| notice(visit, Audience::Caregiver(id), template, soon(visit)))
    };
    match event {
        Event::VisitAssigned(e) => {
            let a = &e.assignment;
            let v = &a.visit;
            let added = a
                .caregiver_ids
                .iter()
                .filter(|id| !a.previous_caregiver_ids.contains(id));
            let removed = a
                .previous_caregiver_ids
                .iter()
                .filter(|id| !a.caregiver_ids.contains(id));
            added
                .map(|id| notice(v, Audience::Caregiver(*id), Template::Assigned, soon(v)))
                .chain(removed.map(|id| {
                    notice(
                        v,
                        Audience::Caregiver(*id),
                        Template::ReassignedAway,
                        soon(v),
                    )
                }))
                .collect()
        }
        Event::VisitUnfilled(e) => {
            let a = &e.assignment;
            a.previous_caregiver_ids
                .iter()
                .filter(|id| !a.caregiver_ids.contains(id))
                .map(|id| {
                    notice(
                        &a.visit,
                        Audience::Caregiver(*id),
                        Template::ReassignedAway,
                        soon(&a.visit),
                    )
                })
                .collect()
        }
        // The alert, not the unfilled event, reaches the office: it is raised
        // once per unfilled spell, not per retry.
        Event::UnfilledAlert(e) => {
            vec![notice(
                &e.assignment.visit,
                Audience::OnCall,
                Template::Unfilled,
                true,
            )]
        }
        Event::VisitCancelled(e) => caregiver(&e.visit, Template::VisitCancelled)
            .into_iter()
            .collect(),
        Event::VisitRescheduled(e) => {
            // Urgent if either the old or the new time is close.
            let urgent = soon(&e.visit) || e.previous_start - at <= URGENT_WITHIN;
            e.visit
                .caregiver_id
                .map(|id| {
                    notice(
                        &e.visit,
                        Audience::Caregiver(id),
                        Template::VisitRescheduled,
                        urgent,
                    )
                })
                .into_iter()
                .collect()
        }
        Event::LateCheckInAlert(e) => {
            vec![notice(
                &e.visit,
                Audience::OnCall,
                Template::LateCheckIn,
                true,
            )]
        }
        Event::VisitCheckedIn(e) => vec![notice(
            &e.visit,
            Audience::ClientContacts(e.visit.client_id),
            Template::CheckedIn,
            false,
        )],
        Event::VisitCompleted(e) if e.missed_check_out => {
            vec![notice(
                &e.visit,
                Audience::OnCall,
                Template::MissedCheckOut,
                true,
            )]
        }
        Event::VisitCompleted(e) => vec![notice(
            &e.visit,
            Audience::ClientContacts(e.visit.client_id),
            Template::CheckedOut,
            false,
        )],
        Event::VisitHeld(e) => vec![notice(&e.visit, Audience::OnCall, Template::Held, false)],
        Event::EscalationAlert(e) => vec![notice(
            &e.visit,
            Audience::Escalation,
            Template::Escalated,
            true,
        )],
        Event::ExceptionRaised(_)
        | Event::ExceptionResolved(_)
        | Event::InvoiceCreated(_)
        | Event::PlanCompleted(_)
        | Event::OverAuthorizationAlert(_) => Vec::new(),
    }
}

/// The languages messages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Language {
    #[default]
    #[serde(rename = "en")]
    English,
    #[serde(rename = "es")]
    Spanish,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::English => "en",
            Self::Spanish => "es",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "en" => Some(Self::English),
            "es" => Some(Self::Spanish),
            _ => None,
        }
    }
}

/// What a message may say about its visit; nothing else reaches it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// First name and last initial ("Eleanor P.").
    pub client: String,
    pub scheduled_start: DateTime<Utc>,
    /// The visit's time zone, for writing its time.
    pub timezone: Tz,
    /// Where to look: the app for a caregiver, the console for the office;
    /// empty for a client's contacts, who have no account.
    pub link: String,
}

/// A message ready for a channel: a subject (e-mail, push title) and a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub text: String,
    /// Where to look (a push notification opens it); may be empty.
    pub link: String,
}

/// The client as a phone or a message shows them: the first name and the
/// last name's initial ("Eleanor Park" → "Eleanor P."). A lost phone shows
/// no more than that.
pub fn short_name(name: &str) -> String {
    let mut words = name.split_whitespace();
    let first = words.next().unwrap_or_default();
    match words.last().and_then(|last| last.chars().next()) {
        Some(initial) => format!("{first} {}.", initial.to_uppercase()),
        None => first.to_owned(),
    }
}

fn when(facts: &Facts, language: Language) -> String {
    let local = facts
        .timezone
        .from_utc_datetime(&facts.scheduled_start.naive_utc());
    match language {
        Language::English => local.format("%a %b %-d, %-I:%M %p").to_string(),
        Language::Spanish => {
            const DAYS: [&str; 7] = ["lun", "mar", "mié", "jue", "vie", "sáb", "dom"];
            const MONTHS: [&str; 12] = [
                "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic",
            ];
            use chrono::Datelike;
            format!(
                "{} {} {}, {}",
                DAYS[local.weekday().num_days_from_monday() as usize],
                local.day(),
                MONTHS[local.month0() as usize],
                local.format("%H:%M")
            )
        }
    }
}

/// The message for `template` in `language`.
pub fn render(template: Template, language: Language, facts: &Facts) -> Message {
    let (client, time, link) = (&facts.client, when(facts, language), &facts.link);
    let (subject, line) = match (language, template) {
        (Language::English, Template::Assigned) => (
            "New visit",
            format!("You have a new visit with {client} on {time}."),
        ),
        (Language::English, Template::ReassignedAway) => (
            "Visit taken off your schedule",
            format!("Your visit with {client} on {time} is no longer yours."),
        ),
        (Language::English, Template::VisitCancelled) => (
            "Visit cancelled",
            format!("Your visit with {client} on {time} was cancelled."),
        ),
        (Language::English, Template::VisitRescheduled) => (
            "Visit moved",
            format!("Your visit with {client} now starts {time}."),
        ),
        (Language::English, Template::Unfilled) => (
            "Unfilled visit",
            format!("Nobody is booked on the visit with {client} on {time}."),
        ),
        (Language::English, Template::LateCheckIn) => (
            "Late check-in",
            format!("Nobody has checked in to the visit with {client} that started {time}."),
        ),
        (Language::English, Template::MissedCheckOut) => (
            "Missed check-out",
            format!("The visit with {client} on {time} was closed without a check-out."),
        ),
        (Language::English, Template::Held) => (
            "Visit held for review",
            format!("The visit with {client} on {time} is held by EVV exceptions."),
        ),
        (Language::English, Template::VerifyEmail) => (
            "Confirm your e-mail address",
            "Open this link to receive homecare notifications at this address (it works for 24 hours):"
                .to_owned(),
        ),
        (Language::Spanish, Template::VerifyEmail) => (
            "Confirme su correo electrónico",
            "Abra este enlace para recibir avisos de homecare en esta dirección (válido 24 horas):"
                .to_owned(),
        ),
        (Language::English, Template::Escalated) => (
            "Unfilled visit escalated",
            format!(
                "The visit with {client} on {time} is still unfilled; the on-call coordinator has not filled it."
            ),
        ),
        (Language::English, Template::CheckedIn) => (
            "Caregiver arrived",
            format!("The caregiver has arrived for {client}'s visit ({time})."),
        ),
        (Language::English, Template::CheckedOut) => (
            "Visit finished",
            format!("The caregiver has finished {client}'s visit ({time})."),
        ),
        (Language::Spanish, Template::Assigned) => (
            "Nueva visita",
            format!("Tiene una nueva visita con {client} el {time}."),
        ),
        (Language::Spanish, Template::ReassignedAway) => (
            "Visita retirada de su horario",
            format!("Su visita con {client} el {time} ya no es suya."),
        ),
        (Language::Spanish, Template::VisitCancelled) => (
            "Visita cancelada",
            format!("Su visita con {client} el {time} fue cancelada."),
        ),
        (Language::Spanish, Template::VisitRescheduled) => (
            "Visita cambiada",
            format!("Su visita con {client} ahora empieza el {time}."),
        ),
        (Language::Spanish, Template::Unfilled) => (
            "Visita sin cubrir",
            format!("Nadie está asignado a la visita con {client} el {time}."),
        ),
        (Language::Spanish, Template::LateCheckIn) => (
            "Llegada tardía",
            format!(
                "Nadie ha registrado la llegada a la visita con {client} que empezó el {time}."
            ),
        ),
        (Language::Spanish, Template::MissedCheckOut) => (
            "Salida no registrada",
            format!("La visita con {client} el {time} se cerró sin registrar la salida."),
        ),
        (Language::Spanish, Template::Held) => (
            "Visita retenida",
            format!("La visita con {client} el {time} está retenida por excepciones de EVV."),
        ),
        (Language::Spanish, Template::Escalated) => (
            "Visita sin cubrir escalada",
            format!(
                "La visita con {client} el {time} sigue sin cubrir; el coordinador de guardia no la cubrió."
            ),
        ),
        (Language::Spanish, Template::CheckedIn) => (
            "Llegó el cuidador",
            format!("El cuidador llegó para la visita de {client} ({time})."),
        ),
        (Language::Spanish, Template::CheckedOut) => (
            "Visita terminada",
            format!("El cuidador terminó la visita de {client} ({time})."),
        ),
    };
    Message {
        subject: subject.to_owned(),
        text: if link.is_empty() {
            line
        } else {
            format!("{line} {link}")
        },
        link: link.clone(),
    }
}

/// Quiet hours in a recipient's own time zone (`start` to `end`, crossing
/// midnight when `end` is earlier).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub timezone: Tz,
}

impl QuietHours {
    /// When a non-urgent message due at `now` may go: `now`, or the end of
    /// the quiet hours it falls in.
    pub fn release(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let local = self.timezone.from_utc_datetime(&now.naive_utc());
        let time = local.time();
        let quiet = if self.start <= self.end {
            self.start <= time && time < self.end
        } else {
            time >= self.start || time < self.end
        };
        if !quiet || self.start == self.end {
            return now;
        }
        let mut day = local.date_naive();
        if time >= self.end {
            day = day.succ_opt().unwrap_or(day);
        }
        // The first instant at or after the end (a gap in the clock moves it on).
        (0..=3)
            .find_map(|hours| {
                let at = day.and_time(self.end) + Duration::hours(hours);
                self.timezone.from_local_datetime(&at).earliest()
            })
            .map_or(now, |end| end.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests;
